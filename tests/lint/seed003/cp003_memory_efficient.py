# Seed 003 (cp003_memory_efficient), verbatim.
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint
from typing import Optional

class MemoryEfficientTrainer:
    """内存高效训练器"""
    
    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        gradient_accumulation_steps: int = 4,
        use_gradient_checkpointing: bool = True,
        use_mixed_precision: bool = True,
        max_grad_norm: float = 1.0
    ):
        self.model = model
        self.optimizer = optimizer
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.use_gradient_checkpointing = use_gradient_checkpointing
        self.max_grad_norm = max_grad_norm
        
        # 混合精度训练
        if use_mixed_precision:
            self.scaler = torch.cuda.amp.GradScaler()
        else:
            self.scaler = None
            
        # 启用梯度检查点
        if use_gradient_checkpointing:
            self._enable_gradient_checkpointing()
    
    def _enable_gradient_checkpointing(self):
        """启用梯度检查点以节省内存"""
        def checkpoint_wrapper(module):
            def forward(*args, **kwargs):
                return checkpoint(module.original_forward, *args, **kwargs)
            
            module.original_forward = module.forward
            module.forward = forward
            
        # 对Transformer层启用检查点
        for name, module in self.model.named_modules():
            if 'layer' in name or 'block' in name:
                checkpoint_wrapper(module)
    
    def train_step(self, batch, criterion):
        """内存高效的训练步骤"""
        self.model.train()
        
        # 将batch分成小的sub-batches
        batch_size = len(batch[0])
        sub_batch_size = batch_size // self.gradient_accumulation_steps
        
        total_loss = 0
        self.optimizer.zero_grad()
        
        for i in range(self.gradient_accumulation_steps):
            # 获取sub-batch
            start_idx = i * sub_batch_size
            end_idx = start_idx + sub_batch_size
            sub_batch = [x[start_idx:end_idx] for x in batch]
            
            # 前向传播
            if self.scaler:
                with torch.cuda.amp.autocast():
                    outputs = self.model(sub_batch[0])
                    loss = criterion(outputs, sub_batch[1])
                    loss = loss / self.gradient_accumulation_steps
                
                # 反向传播
                self.scaler.scale(loss).backward()
            else:
                outputs = self.model(sub_batch[0])
                loss = criterion(outputs, sub_batch[1])
                loss = loss / self.gradient_accumulation_steps
                loss.backward()
            
            total_loss += loss.item()
            
            # 清理中间变量以释放内存
            del outputs, loss
            torch.cuda.empty_cache()
        
        # 梯度裁剪
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
            self.optimizer.step()
        
        return total_loss
