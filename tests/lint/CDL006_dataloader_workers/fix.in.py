"""Loaders."""
from torch.utils.data import DataLoader


def make(ds):
    return DataLoader(ds, batch_size=32, shuffle=True)
