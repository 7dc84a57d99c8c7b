import torch.nn as nn
import torch.nn.functional as F


def train(model, loader, optimizer):
    total_loss = 0
    history = []
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total_loss += loss
        history.append(loss)
    return total_loss / len(loader)


class BadModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.criterion = nn.CrossEntropyLoss()
        self.losses = []

    def forward(self, x, target):
        output = self.linear(x)
        loss = self.criterion(output, target)
        self.losses.append(loss)
        return output
