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


def train_mixed(model, loader):
    for x, y in loader:
        weights = torch.ones(4).to(torch.float16)  # a dtype conversion, not a device copy
        model(x, weights.to(dtype=torch.float32))


class Layers(torch.nn.Module):
    def __init__(self, n, device):
        super().__init__()
        # Built once, not per step.
        self.w = [torch.randn(4, 4).to(device) for _ in range(n)]
        for _ in range(n):
            self.w.append(torch.randn(4, 4).to(device))
