# Seed 003 (cp001_usage), verbatim.
# 模型定义
model = timm.create_model('resnet50', pretrained=True, num_classes=10)

# Lightning模块
lightning_module = StandardLightningModule(
    model=model,
    num_classes=10,
    learning_rate=1e-3,
    max_epochs=100
)

# 训练器
trainer = pl.Trainer(
    max_epochs=100,
    accelerator='gpu',
    devices=1,
    precision=16,  # 混合精度
    callbacks=lightning_module.configure_callbacks()
)

# 开始训练
trainer.fit(lightning_module, train_dataloader, val_dataloader)
