# Seed 001 §3.3, with the import prefix changed (experiments. -> codedag.experiments.).
# training_setup provides what the seed's snippet assumes: model, dataloader, criterion, optimizer.
from training_setup import criterion, dataloader, model, num_epochs, optimizer

from codedag.experiments.monitoring_tools import ExperimentMonitor

# 创建监控器
monitor = ExperimentMonitor("BirdCLEF_2023", save_dir="./results")

# ===== 基线训练 =====
monitor.start_mode("baseline", config={"epochs": 2, "batch_size": 32})

for epoch in range(num_epochs):
    for batch_idx, (inputs, targets) in enumerate(dataloader):
        monitor.start_batch()

        # 训练逻辑
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        accuracy = (outputs.argmax(1) == targets).float().mean().item()

        # 记录 batch
        monitor.end_batch()
        monitor.log_loss(epoch, batch_idx, loss.item())
        monitor.log_accuracy(epoch, batch_idx, accuracy)

monitor.stop_mode()

# ===== 优化训练 =====
monitor.start_mode("optimization", config={"epochs": 2, "batch_size": 32})
# ... 同样的训练循环，但应用了 migrator ...
for epoch in range(num_epochs):
    for batch_idx, (inputs, targets) in enumerate(dataloader):
        monitor.start_batch()
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        accuracy = (outputs.argmax(1) == targets).float().mean().item()
        monitor.end_batch()
        monitor.log_loss(epoch, batch_idx, loss.item())
        monitor.log_accuracy(epoch, batch_idx, accuracy)
monitor.stop_mode()

# ===== 保存结果 =====
monitor.save_json()      # 保存 JSON 数据
monitor.plot_metrics()   # 生成对比图表
