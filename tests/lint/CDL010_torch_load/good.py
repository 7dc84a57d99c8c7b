import dill
import torch


def restore(model, path, **kwargs):
    model.load_state_dict(torch.load(path, weights_only=True))
    other = torch.load(path, pickle_module=dill, weights_only=False)
    return other, torch.load(path, **kwargs)
