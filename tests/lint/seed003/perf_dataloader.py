# Seed 003 (perf_dataloader), verbatim.
class OptimizedDataLoader:
    """优化的数据加载器"""
    
    @staticmethod
    def create_efficient_dataloader(
        dataset,
        batch_size: int,
        num_workers: int = 4,
        prefetch_factor: int = 2,
        persistent_workers: bool = True
    ):
        """创建高效的数据加载器"""
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            num_workers=num_workers,
            pin_memory=True,  # 加速GPU传输
            prefetch_factor=prefetch_factor,  # 预取数据
            persistent_workers=persistent_workers,  # 保持worker进程
            drop_last=True  # 保持batch大小一致
        )
