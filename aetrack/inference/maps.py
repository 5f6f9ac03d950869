"""Network outputs -> heatmaps and tags on one grid: per-joint tags, mirrored passes flipped back, outputs,
flips and scales moved onto one grid (resampled along image coordinates, or resized as mmpose does) and merged.

Per scale, every output map (a hourglass's last stack; HigherHRNet's stride-4 and stride-2 maps) of the plain
and of the mirrored pass is brought onto the common grid, heatmaps are averaged over outputs and then over the
two passes, and tags are concatenated (plain first); then heatmaps are averaged over scales and tags
concatenated. That is mmpose 0.29's order of operations, so its results come out to the last bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from aetrack.config import InferenceConfig, ModelConfig
from aetrack.inference.geometry import Placement
from aetrack.skeleton import FLIP


@dataclass
class Maps:
    """Maps of a batch on one grid. heatmaps (N, J, h, w); tags (N, J, h, w, D); temporal (N, J, h, w, E)."""

    heatmaps: torch.Tensor
    tags: torch.Tensor
    temporal: torch.Tensor


def unflip(maps: Maps) -> Maps:
    """Maps computed on mirrored images, mirrored back with left/right joints swapped."""
    perm = torch.as_tensor(FLIP, device=maps.heatmaps.device)
    return Maps(maps.heatmaps.flip(-1)[:, perm], maps.tags.flip(-2)[:, perm], maps.temporal.flip(-2)[:, perm])


@dataclass
class FrameMaps:
    """Merged maps of a batch of same-size images, where scale 1 placed the images (`box`), and the input
    pixels per pixel of the maps' grid (`stride`: 1 when maps are projected to the input size)."""

    maps: Maps
    box: Placement
    stride: int = 4


def output_maps(raw: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray], model: ModelConfig
                ) -> list[Maps]:
    """What a network returned for a batch -> Maps of each output it answers with: a stacked network's
    (N, stacks, C, h, w) gives its last stack (mmpose tests Hourglass-AE on that one too); a list gives each map
    (HigherHRNet: stride 4 with tags, stride 2 heatmaps only, whose tags come out with D = 0)."""
    from aetrack.model.outputs import split_outputs

    if isinstance(raw, (list, tuple)):
        raw = [torch.as_tensor(m) for m in raw]
    else:
        raw = torch.as_tensor(raw)
        if raw.dim() == 5:
            raw = raw[:, -1]
    maps = []
    for out in split_outputs(raw, model):
        maps.append(Maps(out.heatmaps.float(), _per_joint(out.tags, out.heatmaps),
                         _per_joint(out.temporal, out.heatmaps)))
    return maps


def _per_joint(channels: torch.Tensor | None, heatmaps: torch.Tensor) -> torch.Tensor:
    """(N, J * D, h, w) with dimension d of joint j at channel d * J + j -> (N, J, h, w, D); None -> D = 0."""
    n, j, h, w = heatmaps.shape
    if channels is None:
        return torch.zeros(n, j, h, w, 0, device=heatmaps.device)
    d = channels.shape[1] // j
    return channels.float().reshape(n, d, j, h, w).permute(0, 2, 3, 4, 1)


def take(maps: Maps, rows: slice) -> Maps:
    """The maps of some images of the batch."""
    return Maps(maps.heatmaps[rows], maps.tags[rows], maps.temporal[rows])


def resize(maps: Maps, size: tuple[int, int], align_corners: bool) -> Maps:
    """Maps bilinearly resized to size (h, w) as whole pictures (F.interpolate), as mmpose projects maps."""
    if tuple(maps.heatmaps.shape[-2:]) == tuple(size):
        return maps

    def one(t: torch.Tensor) -> torch.Tensor:
        # contiguous: interpolation of a strided view (a batch's channel slice) rounds differently
        return F.interpolate(t.contiguous(), size=size, mode="bilinear", align_corners=align_corners)

    def per_joint(t: torch.Tensor) -> torch.Tensor:
        n, j, _, _, d = t.shape
        if d == 0:
            return t.new_zeros(n, j, *size, 0)
        return one(t.permute(0, 4, 1, 2, 3).reshape(n, d * j, *t.shape[2:4])).reshape(n, d, j, *size) \
            .permute(0, 2, 3, 4, 1)

    return Maps(one(maps.heatmaps), per_joint(maps.tags), per_joint(maps.temporal))


def _mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Sum in order, then divide: mmpose's averages, bit for bit."""
    total = tensors[0]
    for t in tensors[1:]:
        total = total + t
    return total / len(tensors) if len(tensors) > 1 else total


def _cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(tensors, -1) if len(tensors) > 1 else tensors[0]


def merge_outputs(outputs: list[Maps]) -> Maps:
    """Outputs of one pass on one grid -> heatmaps averaged, tags concatenated, temporal tags averaged (over the
    outputs that have them)."""
    tagged = [m.tags for m in outputs if m.tags.shape[-1]] or [outputs[0].tags]
    temporal = [m.temporal for m in outputs if m.temporal.shape[-1]] or [outputs[0].temporal]
    return Maps(_mean([m.heatmaps for m in outputs]), _cat(tagged), _mean(temporal))


def merge_passes(plain: list[Maps], mirrored: list[Maps] | None, to_grid: Callable[[Maps], Maps]) -> Maps:
    """One scale: the outputs of the plain and (when flip testing) the mirrored pass, mirrored back, each
    brought onto the common grid, merged over outputs, then over the passes."""
    merged = merge_outputs([to_grid(m) for m in plain])
    if mirrored is None:
        return merged
    return merge_flip(merged, merge_outputs([to_grid(unflip(m)) for m in mirrored]))


def merge_flip(plain: Maps, flipped: Maps) -> Maps:
    """Average heatmaps and temporal tags of the plain and (unflipped) mirrored pass; concatenate tags."""
    return Maps((plain.heatmaps + flipped.heatmaps) / 2, torch.cat([plain.tags, flipped.tags], -1),
                (plain.temporal + flipped.temporal) / 2)


def _axis_grid(a: float, b: float, size_out: int, size_in: int, device: torch.device) -> torch.Tensor:
    """Normalised sample positions (align_corners=True) of x_in = a * x_out + b for x_out = 0..size_out-1."""
    x = torch.arange(size_out, device=device, dtype=torch.float32) * a + b
    return 2 * x / max(size_in - 1, 1) - 1


def resample(maps: Maps, source: Placement, target: Placement, stride: int, target_stride: int | None = None
             ) -> Maps:
    """Bilinearly resample maps computed at placement `source` (grid of `stride`) onto the grid of `target`
    (of `target_stride`, default the same), following image coordinates."""
    target_stride = stride if target_stride is None else target_stride
    if source == target and stride == target_stride:
        return maps
    th, tw = target.map_size(target_stride)
    sh, sw = maps.heatmaps.shape[-2:]
    # target heatmap pixel centre -> image pixel -> source heatmap pixel index; affine per axis
    corners = target.heatmap_to_image(np.array([[0.5, 0.5], [1.5, 1.5]]), target_stride)
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


def merge_scales(per_scale: list[Maps], tags_from: Sequence[int] | None = None) -> Maps:
    """Average heatmaps and temporal tags over scales (already on one grid); concatenate the tags of the scales
    `tags_from` (indices; default all)."""
    if len(per_scale) == 1:
        return per_scale[0]
    tags_from = range(len(per_scale)) if tags_from is None else tags_from
    return Maps(_mean([m.heatmaps for m in per_scale]), _cat([per_scale[i].tags for i in tags_from]),
                _mean([m.temporal for m in per_scale]))


def to_grid(source: Placement, target: Placement, grid_stride: int, inference: InferenceConfig
            ) -> Callable[[Maps], Maps]:
    """How an output map computed at `source` reaches the common grid of `target`: resampled along image
    coordinates (project 'heatmap'), or resized to the input size (project 'input', mmpose's project2image)."""
    def move(maps: Maps) -> Maps:
        if inference.project == "input":
            return resize(maps, target.map_size(1), inference.align_corners)
        return resample(maps, source, target, source.input_h // maps.heatmaps.shape[-2], grid_stride)

    return move


def merge_all(outputs: list[tuple[list[Maps], list[Maps] | None]], places: list[Placement], base: Placement,
              inference: InferenceConfig) -> FrameMaps:
    """Every scale's outputs (plain, mirrored or None), computed at `places`, -> one set of maps on the grid of
    `base` (scale 1): the finest output's stride, or the input size (stride 1) with project 'input'."""
    if inference.project == "input":
        stride = 1
    else:
        plain, _ = outputs[0]
        stride = min(places[0].input_h // m.heatmaps.shape[-2] for m in plain)
    per_scale = [merge_passes(plain, mirrored, to_grid(place, base, stride, inference))
                 for (plain, mirrored), place in zip(outputs, places)]
    tags_from = None
    if inference.base_scale_tags and len(per_scale) > 1:
        tags_from = [i for i, s in enumerate(inference.scales) if s == 1.0]
    return FrameMaps(merge_scales(per_scale, tags_from), base, stride)
