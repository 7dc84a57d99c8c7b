import torch
from torch import load as load_checkpoint


def restore(model, path):
    state = torch.load(path)
    model.load_state_dict(state)
    return load_checkpoint(path, map_location="cpu")
