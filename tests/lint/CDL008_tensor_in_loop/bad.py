import torch

for i in range(1000):
    x = torch.tensor([i])


def train(model, loader, device):
    for x, y in loader:
        mask = torch.ones(4, 4).to(device)
        weights = torch.tensor([0.3, 0.7]).cuda()
        model(x, mask, weights)
