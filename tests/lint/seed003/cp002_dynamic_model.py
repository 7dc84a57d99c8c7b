# Seed 003 (cp002_dynamic_model), verbatim.
from dataclasses import dataclass
from typing import List, Optional, Union
import torch.nn as nn

@dataclass
class LayerConfig:
    """层配置"""
    type: str  # 'conv2d', 'linear', 'attention'
    in_features: Optional[int] = None
    out_features: Optional[int] = None
    kernel_size: Optional[int] = None
    stride: Optional[int] = 1
    padding: Optional[int] = 0
    activation: Optional[str] = 'relu'
    dropout: Optional[float] = 0.0
    
@dataclass 
class ModelConfig:
    """模型配置"""
    name: str
    input_shape: List[int]
    num_classes: int
    layers: List[LayerConfig]

class DynamicModelBuilder:
    """动态模型构建器"""
    
    def __init__(self):
        self.layer_registry = {
            'conv2d': self._build_conv2d,
            'linear': self._build_linear,
            'attention': self._build_attention,
            'residual_block': self._build_residual_block
        }
        
        self.activation_registry = {
            'relu': nn.ReLU,
            'gelu': nn.GELU,
            'swish': nn.SiLU,
            'leaky_relu': nn.LeakyReLU
        }
    
    def build_model(self, config: ModelConfig) -> nn.Module:
        """根据配置构建模型"""
        layers = []
        
        for layer_config in config.layers:
            layer = self._build_layer(layer_config)
            layers.append(layer)
            
            # 添加激活函数
            if layer_config.activation:
                activation = self.activation_registry[layer_config.activation]()
                layers.append(activation)
                
            # 添加Dropout
            if layer_config.dropout > 0:
                layers.append(nn.Dropout(layer_config.dropout))
        
        # 添加分类头
        layers.append(nn.AdaptiveAvgPool2d((1, 1)))
        layers.append(nn.Flatten())
        layers.append(nn.Linear(layers[-3].out_channels, config.num_classes))
        
        return nn.Sequential(*layers)
    
    def _build_layer(self, config: LayerConfig) -> nn.Module:
        """构建单个层"""
        if config.type not in self.layer_registry:
            raise ValueError(f"Unknown layer type: {config.type}")
        
        return self.layer_registry[config.type](config)
    
    def _build_conv2d(self, config: LayerConfig) -> nn.Module:
        """构建卷积层"""
        return nn.Conv2d(
            in_channels=config.in_features,
            out_channels=config.out_features,
            kernel_size=config.kernel_size,
            stride=config.stride,
            padding=config.padding
        )
    
    def _build_linear(self, config: LayerConfig) -> nn.Module:
        """构建线性层"""
        return nn.Linear(config.in_features, config.out_features)
        
    def _build_attention(self, config: LayerConfig) -> nn.Module:
        """构建注意力层"""
        return nn.MultiheadAttention(
            embed_dim=config.in_features,
            num_heads=8,
            dropout=config.dropout
        )
