"""Gradient accumulation: zero_grad only every k steps, under the same `if` as step()."""
import torch


def train(model, loader, optimizer, criterion, scaler, accum_steps=4, device="cuda"):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    running = 0.0
    for i, (x, y) in enumerate(loader):
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            loss = criterion(model(x), y) / accum_steps
        scaler.scale(loss).backward()
        running += loss.detach()
        if (i + 1) % accum_steps == 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
    return running
