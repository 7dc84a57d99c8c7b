import os

import torch
from torch.utils.data import DataLoader, TensorDataset


def make_loaders(train_set, args, **loader_kwargs):
    in_memory = TensorDataset(torch.randn(100, 4), torch.randn(100))
    a = DataLoader(in_memory, batch_size=10)
    b = DataLoader(train_set, batch_size=32, num_workers=4, persistent_workers=True)
    c = DataLoader(train_set, batch_size=32, num_workers=args.workers)
    d = DataLoader(train_set, **loader_kwargs)
    e = DataLoader(train_set, num_workers=min(8, os.cpu_count() or 1))
    return a, b, c, d, e
