# Seed 003 (cp003_memory_monitor), verbatim.
class MemoryMonitor:
    """GPU内存监控工具"""
    
    @staticmethod
    def get_memory_info():
        """获取GPU内存信息"""
        if torch.cuda.is_available():
            allocated = torch.cuda.memory_allocated() / 1024**3  # GB
            cached = torch.cuda.memory_reserved() / 1024**3     # GB
            total = torch.cuda.get_device_properties(0).total_memory / 1024**3
            
            return {
                'allocated': allocated,
                'cached': cached,
                'total': total,
                'free': total - cached
            }
        return None
    
    @staticmethod
    def print_memory_usage(stage: str = ""):
        """打印内存使用情况"""
        info = MemoryMonitor.get_memory_info()
        if info:
            print(f"{stage} - GPU Memory: "
                  f"Allocated: {info['allocated']:.2f}GB, "
                  f"Cached: {info['cached']:.2f}GB, "
                  f"Free: {info['free']:.2f}GB")
