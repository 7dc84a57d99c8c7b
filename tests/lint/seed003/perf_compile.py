# Seed 003 (perf_compile), verbatim.
def optimize_model_for_inference(model: nn.Module) -> nn.Module:
    """优化模型用于推理"""
    # 编译模型(PyTorch 2.0+)
    if hasattr(torch, 'compile'):
        model = torch.compile(model, mode='max-autotune')
    
    # 设置为评估模式
    model.eval()
    
    # 预热
    dummy_input = torch.randn(1, 3, 224, 224).cuda()
    with torch.no_grad():
        for _ in range(10):
            _ = model(dummy_input)
    
    return model
