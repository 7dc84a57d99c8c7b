# Seed 003, anti-patterns section, verbatim.
# ❌ 错误: 在循环中创建tensor
for i in range(1000):
    x = torch.tensor([i])  # 每次创建新tensor
