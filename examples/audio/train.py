"""The training loop of the original script, unchanged by CodeDAG (seed 001 §7): only the monitor
calls are added around it."""

from __future__ import annotations

import torch


def train_epoch_with_monitor(model, dataloader, optimizer, criterion, epoch, monitor, max_batches=None):
    model.train()
    total_loss, correct, total = 0.0, 0, 0
    for batch_idx, (inputs, targets) in enumerate(dataloader):
        if max_batches is not None and batch_idx >= max_batches:
            break
        monitor.start_batch()
        # ===== the original training step, unchanged =====
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        # ===== end of the original step =====
        monitor.end_batch()
        monitor.log_loss(epoch, batch_idx, loss.item())
        _, predicted = outputs.max(1)
        correct += predicted.eq(targets).sum().item()
        total += targets.size(0)
        monitor.log_accuracy(epoch, batch_idx, correct / total)
        total_loss += loss.item()
    return total_loss / max(1, batch_idx + 1), correct / max(1, total)


def seeded_model(model_cls, cfg, seed=0):
    """Same initial weights for baseline and optimised runs (a fair comparison)."""
    torch.manual_seed(seed)
    return model_cls(cfg)
