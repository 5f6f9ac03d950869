"""Networks and checkpoint formats."""
from __future__ import annotations

from pathlib import Path

import torch

from aetrack.config import Config, ModelConfig
from aetrack.model.checkpoint import Checkpoint, check_state_dict, read_checkpoint, save_checkpoint
from aetrack.model.hourglass import StackedHourglass
from aetrack.model.hrnet import HigherHRNet
from aetrack.model.inputs import normalize_input
from aetrack.model.mmpose_hourglass import HourglassAE, TopdownHourglass
from aetrack.model.outputs import OutputMaps, split_outputs

__all__ = ["StackedHourglass", "HourglassAE", "HigherHRNet", "TopdownHourglass", "ARCHITECTURES", "build_model",
           "load_model", "load_checkpoint_model", "read_checkpoint", "save_checkpoint", "Checkpoint",
           "count_parameters", "normalize_input", "split_outputs", "OutputMaps"]

# `ModelConfig.arch` -> network class; each takes the ModelConfig.
ARCHITECTURES: dict[str, type[torch.nn.Module]] = {
    "hourglass": StackedHourglass,
    "mmpose-hourglass-ae": HourglassAE,
    "higherhrnet": HigherHRNet,
    "topdown-hourglass": TopdownHourglass,
}


def build_model(config: ModelConfig | Config) -> torch.nn.Module:
    """A freshly initialised network for a model config (the class its `arch` names)."""
    model_config = config.model if isinstance(config, Config) else config
    return ARCHITECTURES[model_config.arch](model_config)


def load_checkpoint_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, Checkpoint]:
    """The network of a checkpoint (ours, the reference's or mmpose's) in eval mode, with what the file says."""
    ckpt = read_checkpoint(path)
    model = build_model(ckpt.config)
    check_state_dict(model, ckpt.state_dict, path)
    model.load_state_dict(ckpt.state_dict)
    model.checkpoint = ckpt.meta  # type: ignore[attr-defined]
    return model.to(device).eval(), ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """A network from a checkpoint of any supported format; `model.config` says what `model(x)` takes and gives.

    hourglass: (N, 3, H, W) RGB in [0, 1] -> (N, stacks, C, H/4, W/4); mmpose's networks take ImageNet-normalised
    RGB (`normalize_input`): mmpose-hourglass-ae -> (N, stacks, C, H/4, W/4), higherhrnet -> [(N, C, H/4, W/4),
    (N, J, H/2, W/2)], topdown-hourglass -> (N, J, H/4, W/4). `split_outputs` names the channels.
    """
    return load_checkpoint_model(path, device)[0]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
