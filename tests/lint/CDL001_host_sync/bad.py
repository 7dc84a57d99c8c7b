import torch
from torch.utils.data import DataLoader as DL


def train(model, dataset, optimizer, criterion):
    loader = DL(dataset, batch_size=32, num_workers=4)
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        out = model(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.step()
        print(f"step {step}: {loss.item()}")
        acc = (out.argmax(1) == y).float().mean().cpu()
        if loss > 100:
            break
        scale = float(loss)
        print(loss)
        progress.set_postfix(acc=acc.tolist(), scale=scale)


class Lit(torch.nn.Module):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        print("loss", loss.item())
        return loss
