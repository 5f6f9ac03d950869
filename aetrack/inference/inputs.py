"""Images -> network inputs: letterbox resize (ours) or mmpose's resize-align warp, colour order, normalisation."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from aetrack.config import ModelConfig
from aetrack.inference.geometry import Aligned, Letterbox, Placement
from aetrack.model.inputs import normalize_input


def to_input(images: torch.Tensor, box: Letterbox, channel_order: str) -> torch.Tensor:
    """Batch of same-size images (N, H, W, 3) uint8 BGR -> network input (N, 3, input_h, input_w) in [0, 1]."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    if channel_order == "RGB":
        x = x.flip(1)
    if (box.resized_h, box.resized_w) != (box.image_h, box.image_w):
        x = F.interpolate(x, size=(box.resized_h, box.resized_w), mode="bilinear", align_corners=False,
                          antialias=box.ratio < 1)
    return F.pad(x, (0, box.input_w - box.resized_w, 0, box.input_h - box.resized_h))


def _legacy_taps(matrix: np.ndarray, out_w: int, out_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source pixel and 1/32-pixel weight of every output column and row, as OpenCV's classic warpAffine finds
    them: the inverse matrix in 10-bit fixed point, positions rounded to 1/32 pixel."""
    m = np.asarray(matrix, np.float64).ravel().copy()
    det = m[0] * m[4] - m[1] * m[3]
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = m[4] * det, m[0] * det
    m[0], m[1], m[3], m[4] = a11, -m[1] * det, -m[3] * det, a22
    m[2], m[5] = -m[0] * m[2] - m[1] * m[5], -m[3] * m[2] - m[4] * m[5]
    xs, ys = np.arange(out_w), np.arange(out_h)
    # no rotation: the cross terms m[1], m[3] are 0 (or ~1e-17, rounded away), so columns and rows are independent
    assert abs(m[1]) * out_h * 1024 < 0.5 and abs(m[3]) * out_w * 1024 < 0.5, m
    # OpenCV rounds a row's start (m[4] * y + m[5]) * 1024 once and adds each column's rounded m[0] * x * 1024
    x = (np.rint(m[2] * 1024).astype(np.int64) + 16 + np.rint(m[0] * xs * 1024).astype(np.int64)) >> 5
    y = (np.rint((m[4] * ys + m[5]) * 1024).astype(np.int64) + 16) >> 5
    return x >> 5, x & 31, y >> 5, y & 31


def _taps(images: torch.Tensor, index: np.ndarray, weight: np.ndarray, dim: int) -> torch.Tensor:
    """(32 - w) * image[i] + w * image[i + 1] along `dim` in int32, pixels outside the image count as 0."""
    size = images.shape[dim]
    dev = images.device
    out = None
    for idx, wt in ((index, 32 - weight), (index + 1, weight)):
        inside = torch.from_numpy((idx >= 0) & (idx < size)).to(dev)
        picked = images.index_select(dim, torch.from_numpy(np.clip(idx, 0, size - 1)).to(dev))
        shape = [1] * images.dim()
        shape[dim] = len(idx)
        term = picked * (torch.from_numpy(wt.astype(np.int32)).to(dev) * inside).view(shape)
        out = term if out is None else out + term
    return out


def warp_aligned(images: torch.Tensor, place: Aligned) -> torch.Tensor:
    """Images (N, H, W, C) uint8 -> (N, input_h, input_w, C) uint8 warped exactly as mmpose's BottomUpResizeAlign
    did (OpenCV 4's classic bilinear warpAffine: 1/32-pixel positions, 15-bit weights, black border), on the
    images' device. Newer OpenCV releases interpolate differently, so the warp is done here, not by cv2."""
    return warp_classic(images, place.affine(), place.input_w, place.input_h)


def warp_classic(images: torch.Tensor, matrix: np.ndarray, out_w: int, out_h: int) -> torch.Tensor:
    """Images (N, H, W, C) uint8 -> (N, out_h, out_w, C) uint8: `cv2.warpAffine(image, matrix, (out_w, out_h))`
    as OpenCV 4 computed it (bilinear, black border), for a 2x3 `matrix` without rotation."""
    col, col_w, row, row_w = _legacy_taps(matrix, out_w, out_h)
    p = images.to(torch.int32)
    v = _taps(_taps(p, row, row_w, 1), col, col_w, 2)  # weights multiply to (32 - ay)(32 - ax) ... <= 1024
    return ((v * 32 + (1 << 14)) >> 15).clamp_(0, 255).to(torch.uint8)


def align_input(images: torch.Tensor, place: Aligned, channel_order: str) -> torch.Tensor:
    """Batch of same-size images (N, H, W, 3) uint8 BGR -> network input (N, 3, input_h, input_w) in [0, 1]."""
    x = warp_aligned(images, place).permute(0, 3, 1, 2).float().div_(255.0)
    return x.flip(1) if channel_order == "RGB" else x


def network_input(images: torch.Tensor, place: Placement, channel_order: str, model: ModelConfig) -> torch.Tensor:
    """Batch of same-size images (N, H, W, 3) uint8 BGR -> the network's input (N, 3, input_h, input_w):
    letterboxed or warped (as `place` is), in `channel_order`, scaled as the network was trained
    (`model.input_norm`)."""
    if isinstance(place, Aligned):
        x = align_input(images, place, "RGB")
    else:
        x = to_input(images, place, "RGB")
    x = normalize_input(x, model)  # its statistics are RGB
    return x if channel_order == "RGB" else x.flip(1)
