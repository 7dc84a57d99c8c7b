# Seed 003 (cp001_lightning_module), verbatim.
import pytorch_lightning as pl
import torch
import torch.nn as nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import CosineAnnealingLR
from typing import Any, Dict, Tuple

class StandardLightningModule(pl.LightningModule):
    """标准Lightning模块模板
    
    Features:
    - 自动混合精度训练
    - 灵活的优化器配置
    - 内置指标记录
    - 可配置的学习率调度
    """
    
    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_epochs: int = 5,
        max_epochs: int = 100,
        **kwargs
    ):
        super().__init__()
        
        # 保存超参数到checkpoints
        self.save_hyperparameters(ignore=['model'])
        
        self.model = model
        self.num_classes = num_classes
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.max_epochs = max_epochs
        
        # 损失函数
        self.criterion = nn.CrossEntropyLoss()
        
        # 指标计算
        self.train_acc = pl.metrics.Accuracy(task="multiclass", num_classes=num_classes)
        self.val_acc = pl.metrics.Accuracy(task="multiclass", num_classes=num_classes)
        
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """前向传播"""
        return self.model(x)
    
    def training_step(self, batch: Tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Dict[str, Any]:
        """训练步骤"""
        x, y = batch
        logits = self(x)
        loss = self.criterion(logits, y)
        
        # 计算准确率
        acc = self.train_acc(logits, y)
        
        # 记录指标
        self.log('train/loss', loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log('train/acc', acc, on_step=True, on_epoch=True, prog_bar=True)
        
        return {'loss': loss}
    
    def validation_step(self, batch: Tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Dict[str, Any]:
        """验证步骤"""
        x, y = batch
        logits = self(x)
        loss = self.criterion(logits, y)
        
        # 计算准确率
        acc = self.val_acc(logits, y)
        
        # 记录指标
        self.log('val/loss', loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log('val/acc', acc, on_step=False, on_epoch=True, prog_bar=True)
        
        return {'val_loss': loss, 'val_acc': acc}
    
    def configure_optimizers(self) -> Dict[str, Any]:
        """配置优化器和学习率调度器"""
        # 优化器
        optimizer = AdamW(
            self.parameters(),
            lr=self.learning_rate,
            weight_decay=self.weight_decay
        )
        
        # 学习率调度器
        scheduler = CosineAnnealingLR(
            optimizer,
            T_max=self.max_epochs,
            eta_min=self.learning_rate * 0.01
        )
        
        return {
            'optimizer': optimizer,
            'lr_scheduler': {
                'scheduler': scheduler,
                'interval': 'epoch',
                'frequency': 1,
                'monitor': 'val/loss'
            }
        }
    
    def configure_callbacks(self) -> list:
        """配置回调函数"""
        callbacks = [
            pl.callbacks.ModelCheckpoint(
                monitor='val/acc',
                mode='max',
                save_top_k=3,
                filename='{epoch}-{val_acc:.3f}'
            ),
            pl.callbacks.EarlyStopping(
                monitor='val/loss',
                patience=10,
                mode='min'
            ),
            pl.callbacks.LearningRateMonitor(logging_interval='epoch')
        ]
        return callbacks
