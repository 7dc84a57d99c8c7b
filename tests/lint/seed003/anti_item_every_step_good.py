# Seed 003, anti-patterns section, verbatim.
# ✅ 正确: 批量记录
losses = []
for batch in dataloader:
    loss = criterion(model(batch[0]), batch[1])
    losses.append(loss.item())
print(f"Average loss: {sum(losses)/len(losses)}")
