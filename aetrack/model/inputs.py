"""What a network takes: the input scaling its `ModelConfig.input_norm` names."""
from __future__ import annotations

import torch

from aetrack.config import ModelConfig

# mmpose's networks were trained on ([0, 1] RGB - mean) / std with ImageNet's channel statistics.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_input(images: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """RGB images (N, 3, H, W) in [0, 1] -> the network's input: unchanged ('unit') or ImageNet-normalised."""
    if config.input_norm == "unit":
        return images
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std
