from torch.utils.data import DataLoader


def train(model, dataset, device):
    loader = DataLoader(
        dataset,
        batch_size=64,
        num_workers=4,
    )
    for x, y in loader:
        model(x.to(device, non_blocking=True))
