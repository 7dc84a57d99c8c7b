import torch
from torch.utils.data import DataLoader


def make_loaders(train_set, val_set):
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=64, num_workers=0)
    return train_loader, val_loader
