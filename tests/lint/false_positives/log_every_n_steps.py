"""Logging every N steps: the sync happens once per N steps, not every step."""
import logging

import torch

log = logging.getLogger(__name__)


def train(model, loader, optimizer, criterion, epochs, log_interval=100):
    torch.manual_seed(0)
    step = 0
    for epoch in range(epochs):
        model.train()
        for batch_idx, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            loss.backward()
            optimizer.step()
            step += 1
            if step % log_interval != 0:
                continue
            log.info("epoch %d step %d loss %.4f", epoch, step, loss.item())
            print(f"acc {(out.argmax(1) == y).float().mean().item():.3f}")
        model.eval()
        with torch.no_grad():
            val = sum(criterion(model(x), y).item() for x, y in loader)
        log.info("epoch %d val %.4f", epoch, val)
