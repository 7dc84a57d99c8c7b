"""Loaders."""
import os
from torch.utils.data import DataLoader


def make(ds):
    return DataLoader(ds, batch_size=32, shuffle=True, num_workers=min(8, os.cpu_count() or 1), persistent_workers=True)
