# Seed 003 (cp004_distributed), verbatim.
import torch
import torch.nn as nn
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data.distributed import DistributedSampler
import os

class DistributedTrainer:
    """分布式训练器"""
    
    def __init__(self, backend: str = 'nccl'):
        self.backend = backend
        self.rank = int(os.environ.get('RANK', 0))
        self.local_rank = int(os.environ.get('LOCAL_RANK', 0))
        self.world_size = int(os.environ.get('WORLD_SIZE', 1))
        
        # 初始化分布式环境
        self._init_distributed()
    
    def _init_distributed(self):
        """初始化分布式环境"""
        if self.world_size > 1:
            dist.init_process_group(
                backend=self.backend,
                rank=self.rank,
                world_size=self.world_size
            )
            torch.cuda.set_device(self.local_rank)
    
    def setup_model(self, model: nn.Module) -> nn.Module:
        """设置分布式模型"""
        model = model.to(self.local_rank)
        
        if self.world_size > 1:
            model = DDP(
                model,
                device_ids=[self.local_rank],
                output_device=self.local_rank,
                find_unused_parameters=False  # 优化性能
            )
        
        return model
    
    def setup_dataloader(self, dataset, batch_size: int, shuffle: bool = True):
        """设置分布式数据加载器"""
        if self.world_size > 1:
            sampler = DistributedSampler(
                dataset,
                num_replicas=self.world_size,
                rank=self.rank,
                shuffle=shuffle
            )
            shuffle = False  # 使用sampler时不能同时shuffle
        else:
            sampler = None
        
        dataloader = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=4,
            pin_memory=True
        )
        
        return dataloader, sampler
    
    def is_main_process(self) -> bool:
        """判断是否为主进程"""
        return self.rank == 0
    
    def save_checkpoint(self, model, optimizer, epoch, path):
        """保存检查点(仅主进程)"""
        if self.is_main_process():
            checkpoint = {
                'epoch': epoch,
                'model_state_dict': model.module.state_dict() if hasattr(model, 'module') else model.state_dict(),
                'optimizer_state_dict': optimizer.state_dict(),
            }
            torch.save(checkpoint, path)
    
    def cleanup(self):
        """清理分布式环境"""
        if self.world_size > 1:
            dist.destroy_process_group()
