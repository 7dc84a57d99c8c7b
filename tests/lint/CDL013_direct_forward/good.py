import torch.nn as nn


class Child(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2


def predict(model, x):
    return model(x)
