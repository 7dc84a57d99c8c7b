import torch


def train(model, loader, device):
    for x, y in loader:
        model(x, torch.zeros(4, 4, device=device))
