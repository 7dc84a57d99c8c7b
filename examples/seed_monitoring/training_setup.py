"""The user's training code the seed's snippets assume (model, dataloader, loop variables):
a small classifier on synthetic data, CPU only, a few seconds."""

import torch
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
num_epochs = 2
inputs_all = torch.randn(512, 32)
targets_all = (inputs_all[:, :4].sum(dim=1) > 0).long()
dataloader = DataLoader(TensorDataset(inputs_all, targets_all), batch_size=32, shuffle=True)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
