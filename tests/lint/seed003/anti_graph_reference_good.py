# Seed 003, anti-patterns section, verbatim.
# ✅ 正确: 只保存标量值
class GoodModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.losses = []
    
    def forward(self, x):
        output = self.linear(x)
        loss = self.criterion(output, target)
        self.losses.append(loss.item())  # 只保存数值
        return output
