# Seed 003, anti-patterns section, verbatim.
# ❌ 错误: 不必要的GPU-CPU传输
for batch in dataloader:
    loss = criterion(model(batch[0]), batch[1])
    print(f"Loss: {loss.item()}")  # 每次都传输到CPU
