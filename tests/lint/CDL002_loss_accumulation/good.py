import torch
import torch.nn as nn


def train(model, loader, optimizer, criterion):
    total_loss = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss


def multi_task_loss(heads, x, y, criterion):
    # Summed to call backward once on the total: that graph is wanted.
    loss = 0
    for head in heads:
        loss += criterion(head(x), y)
    return loss


def train_multi(model, heads, loader, criterion, optimizer):
    for x, y in loader:
        optimizer.zero_grad()
        loss = 0
        for head in heads:
            loss = loss + criterion(head(x), y)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def evaluate(model, loader, criterion):
    losses = []
    for x, y in loader:
        losses.append(criterion(model(x), y))
    return torch.stack(losses).mean()


class GoodModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.criterion = nn.CrossEntropyLoss()
        self.losses = []

    def forward(self, x, target):
        output = self.linear(x)
        loss = self.criterion(output, target)
        self.losses.append(loss.item())
        return output


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 4)

    def forward(self, x, hidden=None):
        # Outputs over time steps, stacked and returned by this call: the graph is wanted.
        result = []
        for i in range(x.shape[0]):
            hidden = self.cell(x[i], hidden)
            result.append(hidden[0])
        return torch.stack(result, 0), hidden
