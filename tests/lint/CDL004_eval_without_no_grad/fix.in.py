import torch


class Runner:
    def evaluate(self, model, loader):
        model.eval()
        return [model(x) for x in loader]
