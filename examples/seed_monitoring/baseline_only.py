# Seed 001 §8 Q4 (monitor without optimising), with the import prefix changed.
from training_setup import criterion, dataloader, model, optimizer

from codedag.experiments.monitoring_tools import ExperimentMonitor

monitor = ExperimentMonitor("baseline_only")
monitor.start_mode("baseline")
# ... 训练代码 ...
for batch_idx, (inputs, targets) in enumerate(dataloader):
    monitor.start_batch()
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    optimizer.step()
    monitor.end_batch()
    monitor.log_loss(0, batch_idx, loss.item())
monitor.stop_mode()
monitor.save_json()
