import torch


def train(model, loader, optimizer, criterion, log_every=50):
    total = 0.0
    losses = []
    for step, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        # The PyTorch FAQ's way to track a metric: accumulate Python numbers.
        total += loss.item()
        losses.append(loss.item())
        if step % log_every == 0:
            print(f"step {step}: {loss.item()}")
        if (step + 1) % 100 == 0:
            print(float(loss))
        if x.shape[0] != 32:
            continue
    print(total / len(losses))
    return total


def summarize(values):
    # Not a training loop: no loader, no backward.
    for v in values:
        print(v.item())


class Lit(torch.nn.Module):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train/loss", loss, on_step=True)
        if self.global_step % 100 == 0:
            print(loss.item())
        return loss
