# Seed 003, anti-patterns section, verbatim.
# ✅ 正确: 预分配tensor
x = torch.zeros(1000)
for i in range(1000):
    x[i] = i
