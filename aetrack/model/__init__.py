"""Networks and checkpoint formats."""
from __future__ import annotations

from pathlib import Path

import torch

from aetrack.config import Config, ModelConfig
from aetrack.model.checkpoint import Checkpoint, check_state_dict, read_checkpoint, save_checkpoint
from aetrack.model.hourglass import StackedHourglass

__all__ = ["StackedHourglass", "build_model", "load_model", "load_checkpoint_model", "read_checkpoint",
           "save_checkpoint", "Checkpoint", "count_parameters"]


def build_model(config: ModelConfig | Config) -> StackedHourglass:
    """A freshly initialised network for a model config."""
    return StackedHourglass(config.model if isinstance(config, Config) else config)


def load_checkpoint_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[StackedHourglass, Checkpoint]:
    """The network of a checkpoint (ours or the reference's) in eval mode, with what the file says about it."""
    ckpt = read_checkpoint(path)
    model = build_model(ckpt.config)
    check_state_dict(model, ckpt.state_dict, path)
    model.load_state_dict(ckpt.state_dict)
    model.checkpoint = ckpt.meta  # type: ignore[attr-defined]
    return model.to(device).eval(), ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> StackedHourglass:
    """A network from a checkpoint of either format; `model(x)` maps (N, 3, H, W) in [0, 1] to (N, stacks, C, H/4, W/4)."""
    return load_checkpoint_model(path, device)[0]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
