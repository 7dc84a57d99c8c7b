"""A Dataset and its loaders: per-sample tensors are built in __getitem__, not in a loop."""
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class AudioDataset(Dataset):
    def __init__(self, files, labels):
        self.files = files
        self.labels = labels

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        wave = np.load(self.files[i])
        return torch.from_numpy(wave).float(), torch.tensor(self.labels[i])


def loaders(train_files, labels, batch_size=32):
    g = torch.Generator()
    g.manual_seed(0)
    ds = AudioDataset(train_files, labels)
    return DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=4, pin_memory=True,
                      persistent_workers=True, generator=g)
