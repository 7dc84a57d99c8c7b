# Seed 003, anti-patterns section, verbatim.
# ❌ 错误: 保持对计算图的引用
class BadModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.losses = []  # 保持对loss tensor的引用
    
    def forward(self, x):
        output = self.linear(x)
        loss = self.criterion(output, target)
        self.losses.append(loss)  # 内存泄漏!
        return output
