"""What a network gives: its raw output split into heatmaps and tags per supervised output, for any arch."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from aetrack.config import ModelConfig


@dataclass
class OutputMaps:
    """One supervised output. heatmaps (N, J, h, w); tags (N, J * tag_dim, h, w) and temporal tags
    (N, J * temporal_dim, h, w), tag dimension d of joint j at channel d * J + j, or None where the output has
    none; stride: input pixels per map pixel."""

    heatmaps: torch.Tensor
    tags: torch.Tensor | None
    temporal: torch.Tensor | None
    stride: int


def split_outputs(raw: torch.Tensor | list[torch.Tensor], config: ModelConfig) -> list[OutputMaps]:
    """`model(x)` (or `TopdownHourglass.forward_stacks(x)`) -> one `OutputMaps` per supervised output: every
    stack of a hourglass (intermediate supervision, all stride 4), every resolution of HigherHRNet (stride 4 with
    tags, then stride 2 without)."""
    if torch.is_tensor(raw):
        maps = list(raw.unbind(1)) if raw.dim() == 5 else [raw]
    else:
        maps = list(raw)
    if config.arch == "higherhrnet":
        strides, tagged = config.output_strides, config.output_tags
        if len(maps) != len(strides):
            raise ValueError(f"higherhrnet gives {len(strides)} outputs, got {len(maps)}")
    else:
        strides, tagged = (config.stride,) * len(maps), config.output_tags * len(maps)
    j, d, e = config.joints, config.tag_dim, config.temporal_dim
    out = []
    for m, stride, has_tags in zip(maps, strides, tagged):
        channels = config.out_channels if has_tags else j
        if m.shape[1] != channels:
            raise ValueError(f"an output of {m.shape[1]} channels where model config {config.arch} has {channels}")
        tags = m[:, j:j + j * d] if has_tags else None
        temporal = m[:, j + j * d:j + j * (d + e)] if has_tags and e else None
        out.append(OutputMaps(m[:, :j], tags, temporal, stride))
    return out
