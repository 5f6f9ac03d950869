"""Network outputs -> heatmaps and tags on one grid: channel slicing, flip merging, multi-scale resampling."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aetrack.config import ModelConfig
from aetrack.inference.geometry import Letterbox
from aetrack.skeleton import FLIP


@dataclass
class Maps:
    """Maps of a batch on one grid. heatmaps (N, J, h, w); tags (N, J, h, w, D); temporal (N, J, h, w, E)."""

    heatmaps: torch.Tensor
    tags: torch.Tensor
    temporal: torch.Tensor


def split_channels(out: torch.Tensor, model: ModelConfig) -> Maps:
    """One stack's output (N, C, h, w) -> heatmaps, tags and temporal tags (tag dim d of joint j at J + d*J + j)."""
    n, _, h, w = out.shape
    j, d, e = model.joints, model.tag_dim, model.temporal_dim
    heat = out[:, :j]
    tags = out[:, j:j + j * d].reshape(n, d, j, h, w).permute(0, 2, 3, 4, 1)
    temporal = out[:, j + j * d:j + j * (d + e)].reshape(n, e, j, h, w).permute(0, 2, 3, 4, 1)
    return Maps(heat, tags, temporal)


def unflip(maps: Maps) -> Maps:
    """Maps computed on mirrored images, mirrored back with left/right joints swapped."""
    perm = torch.as_tensor(FLIP, device=maps.heatmaps.device)
    return Maps(maps.heatmaps.flip(-1)[:, perm], maps.tags.flip(-2)[:, perm], maps.temporal.flip(-2)[:, perm])


def merge_flip(plain: Maps, flipped: Maps) -> Maps:
    """Average heatmaps and temporal tags of the plain and (unflipped) mirrored pass; concatenate tags."""
    return Maps((plain.heatmaps + flipped.heatmaps) / 2, torch.cat([plain.tags, flipped.tags], -1),
                (plain.temporal + flipped.temporal) / 2)


def _axis_grid(a: float, b: float, size_out: int, size_in: int, device: torch.device) -> torch.Tensor:
    """Normalised sample positions (align_corners=True) of x_in = a * x_out + b for x_out = 0..size_out-1."""
    x = torch.arange(size_out, device=device, dtype=torch.float32) * a + b
    return 2 * x / max(size_in - 1, 1) - 1


def resample(maps: Maps, source: Letterbox, target: Letterbox, stride: int) -> Maps:
    """Bilinearly resample maps computed at letterbox `source` onto the heatmap grid of `target`."""
    if source == target:
        return maps
    th, tw = target.map_size(stride)
    sh, sw = maps.heatmaps.shape[-2:]
    # target heatmap pixel centre -> image pixel -> source heatmap pixel index; affine per axis
    corners = target.heatmap_to_image(np.array([[0.5, 0.5], [1.5, 1.5]]), stride)
    src = source.image_to_heatmap(corners, stride) - 0.5
    ax, ay = src[1, 0] - src[0, 0], src[1, 1] - src[0, 1]
    bx, by = src[0, 0], src[0, 1]
    dev = maps.heatmaps.device
    gx = _axis_grid(ax, bx, tw, sw, dev)
    gy = _axis_grid(ay, by, th, sh, dev)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)  # (th, tw, 2) as (x, y)

    def sample(t: torch.Tensor) -> torch.Tensor:
        n = t.shape[0]
        flat = t.reshape(n, -1, sh, sw)
        g = grid.to(flat.dtype).expand(n, th, tw, 2)
        return F.grid_sample(flat, g, mode="bilinear", padding_mode="zeros", align_corners=True)

    def sample_tags(t: torch.Tensor) -> torch.Tensor:
        n, j, _, _, d = t.shape
        if d == 0:
            return t.new_zeros(n, j, th, tw, 0)
        s = sample(t.permute(0, 1, 4, 2, 3))  # (n, j*d, th, tw)
        return s.reshape(n, j, d, th, tw).permute(0, 1, 3, 4, 2)

    return Maps(sample(maps.heatmaps), sample_tags(maps.tags), sample_tags(maps.temporal))


def merge_scales(per_scale: list[Maps]) -> Maps:
    """Average heatmaps and temporal tags over scales (already on one grid); concatenate tags."""
    if len(per_scale) == 1:
        return per_scale[0]
    heat = torch.stack([m.heatmaps for m in per_scale]).mean(0)
    temporal = torch.stack([m.temporal for m in per_scale]).mean(0)
    return Maps(heat, torch.cat([m.tags for m in per_scale], -1), temporal)
