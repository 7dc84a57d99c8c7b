import torch.nn as nn


class Wrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)

    def forward(self, x):
        return self.backbone.forward(x)


def predict(model, x):
    return model.forward(x)
