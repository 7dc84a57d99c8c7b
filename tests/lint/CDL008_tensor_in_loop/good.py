import torch

x = torch.zeros(1000)
for i in range(1000):
    x[i] = i


def train(model, loader, device):
    mask = torch.ones(4, 4, device=device)
    for x, y in loader:
        model(x, mask)


class Dataset:
    def __getitem__(self, i):
        return torch.tensor([i])
