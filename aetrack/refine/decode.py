"""A single-person network's heatmaps -> keypoints in image pixels, as mmpose 0.29's top-down test path.

Flip test: the maps of the mirrored crop are mirrored back, their joints swapped left/right and shifted one
pixel right (mmpose's `shift_heatmap`: the mirrored features are not aligned), then averaged with the others.
Keypoints: the highest pixel, then either a quarter-pixel step toward the higher neighbour ('default') or
DARK ('unbiased': the maps blurred with a Gaussian, rescaled to their old maximum, and one Newton step on
their logarithm); heatmap pixel x maps to image pixel center - size / 2 + x * size / map size.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from aetrack.errors import AetrackError
from aetrack.skeleton import FLIP

POST_PROCESS = ("default", "unbiased")
MODULATION_KERNEL = 11  # DARK's Gaussian, for maps trained with sigma 2 (mmpose's default)


def flip_back(heatmaps: np.ndarray) -> np.ndarray:
    """Maps (..., 17, h, w) of a mirrored crop -> those of the crop: mirrored, joints swapped, shifted a pixel."""
    back = heatmaps[..., FLIP, :, ::-1]
    shifted = np.empty_like(back)
    shifted[..., 1:] = back[..., :-1]
    shifted[..., 0] = back[..., 0]
    return shifted


def merge_flip(maps: Sequence[np.ndarray]) -> np.ndarray:
    """One map (..., 17, h, w) float32 from `[maps]` or `[maps, maps of the mirrored crop]`."""
    if not 1 <= len(maps) <= 2:
        raise AetrackError(f"expected the maps of the crop and optionally of its mirror, got {len(maps)} maps")
    heatmaps = np.asarray(maps[0], np.float32)
    if len(maps) == 2:
        flipped = np.asarray(maps[1], np.float32)
        if flipped.shape != heatmaps.shape:
            raise AetrackError(f"the mirrored crop's maps {flipped.shape} differ from the crop's {heatmaps.shape}")
        heatmaps = (heatmaps + flip_back(flipped)) / np.float32(2)
    return heatmaps


def decode_crop(maps: Sequence[np.ndarray], center, size, *, post_process: str = "default",
                kernel: int = MODULATION_KERNEL) -> np.ndarray:
    """Keypoints (17, 3) x, y, score in image pixels of one crop's maps (each (17, h, w)); see `decode_crops`."""
    heatmaps = merge_flip(maps)
    if heatmaps.ndim != 3:
        raise AetrackError(f"expected maps of shape (joints, h, w), got {heatmaps.shape}")
    return decode_crops([heatmaps[None]], np.asarray(center, np.float64)[None],
                        np.asarray(size, np.float64)[None], post_process=post_process, kernel=kernel)[0]


def decode_crops(maps: Sequence[np.ndarray], centers: np.ndarray, sizes: np.ndarray, *,
                 post_process: str = "default", kernel: int = MODULATION_KERNEL) -> np.ndarray:
    """Keypoints (P, 17, 3) x, y, score in image pixels of P crops.

    maps: `[(P, 17, h, w)]`, or two with flip test (the second as the network gave it for the mirrored crops).
    centers, sizes: (P, 2) each crop's region in image pixels (`box_to_center_scale`). score: the map's maximum.
    kernel: DARK's Gaussian width (odd), to match the training targets' sigma (11 for sigma 2, 7 for 1.5).
    """
    if post_process not in POST_PROCESS:
        raise AetrackError(f"post_process must be one of {', '.join(POST_PROCESS)}, got {post_process!r}")
    if kernel < 1 or kernel % 2 == 0:
        raise AetrackError(f"the modulation kernel must be a positive odd number, got {kernel}")
    heatmaps = merge_flip(maps)
    if heatmaps.ndim != 4 or heatmaps.shape[0] != len(centers):
        raise AetrackError(f"expected maps of shape ({len(centers)}, joints, h, w), got {heatmaps.shape}")
    xy, scores = peaks(heatmaps)
    if post_process == "unbiased":
        xy = xy + newton_step(np.log(np.maximum(modulate(heatmaps, kernel), 1e-10)), xy)
    else:
        xy = xy + quarter_step(heatmaps, xy)
    return np.concatenate([to_image(xy, centers, sizes, heatmaps.shape[-2:]), scores[..., None]], -1)


def peaks(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest pixel (first in row-major order) of each map (..., h, w): x, y (..., 2) (-1 where the maximum is
    not positive) and the maximum (...)."""
    w = heatmaps.shape[-1]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], -1)
    idx = flat.argmax(-1)
    best = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
    xy = np.stack([idx % w, idx // w], -1).astype(np.float64)
    return np.where(best[..., None] > 0, xy, -1.0), best


def _at(heatmaps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """heatmaps[..., y, x] for integer x, y (...) inside the maps."""
    h, w = heatmaps.shape[-2:]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], h * w)
    return np.take_along_axis(flat, (y * w + x)[..., None], -1)[..., 0]


def quarter_step(heatmaps: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A quarter pixel toward the higher neighbour on each axis, for peaks at least two pixels inside the map
    (mmpose's bounds); (..., 2)."""
    h, w = heatmaps.shape[-2:]
    x, y = xy[..., 0].astype(np.int64), xy[..., 1].astype(np.int64)
    inside = (1 < x) & (x < w - 1) & (1 < y) & (y < h - 1)
    xs, ys = np.where(inside, x, 2), np.where(inside, y, 2)
    dx = _at(heatmaps, xs + 1, ys) - _at(heatmaps, xs - 1, ys)
    dy = _at(heatmaps, xs, ys + 1) - _at(heatmaps, xs, ys - 1)
    return np.where(inside[..., None], np.sign(np.stack([dx, dy], -1)) * 0.25, 0.0)


def modulate(heatmaps: np.ndarray, kernel: int = MODULATION_KERNEL) -> np.ndarray:
    """DARK's modulation: each map blurred with a `kernel`-wide Gaussian (zeros outside the map, sigma as
    OpenCV picks it) and rescaled so that its maximum is unchanged."""
    g = cv2.getGaussianKernel(kernel, 0).ravel()
    r = kernel // 2
    h, w = heatmaps.shape[-2:]
    padded = np.pad(heatmaps.astype(np.float64), [(0, 0)] * (heatmaps.ndim - 2) + [(r, r), (r, r)])
    rows = sum(g[i] * padded[..., :, i:i + w] for i in range(kernel))
    blurred = sum(g[i] * rows[..., i:i + h, :] for i in range(kernel))
    top, new_top = heatmaps.max((-2, -1)), blurred.max((-2, -1))
    ratio = np.divide(top, new_top, out=np.zeros_like(new_top), where=new_top != 0)
    return (blurred * ratio[..., None, None]).astype(np.float32)


def newton_step(log_heatmaps: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """The Taylor (Newton) step -H^-1 g of the log map at each peak (..., 2), from central differences; zero for
    peaks within two pixels of the border or where the Hessian is singular (mmpose's bounds)."""
    h, w = log_heatmaps.shape[-2:]
    x, y = xy[..., 0].astype(np.int64), xy[..., 1].astype(np.int64)
    inside = (1 < x) & (x < w - 2) & (1 < y) & (y < h - 2)
    x, y = np.where(inside, x, 2), np.where(inside, y, 2)

    def m(dx: int, dy: int) -> np.ndarray:
        return _at(log_heatmaps, x + dx, y + dy).astype(np.float64)

    gx, gy = 0.5 * (m(1, 0) - m(-1, 0)), 0.5 * (m(0, 1) - m(0, -1))
    hxx = 0.25 * (m(2, 0) - 2 * m(0, 0) + m(-2, 0))
    hyy = 0.25 * (m(0, 2) - 2 * m(0, 0) + m(0, -2))
    hxy = 0.25 * (m(1, 1) - m(1, -1) - m(-1, 1) + m(-1, -1))
    det = hxx * hyy - hxy * hxy
    ok = inside & (det != 0)
    det = np.where(ok, det, 1.0)
    step = np.stack([-(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det], -1)
    return np.where(ok[..., None], step, 0.0)


def to_image(xy: np.ndarray, centers: np.ndarray, sizes: np.ndarray, map_size: tuple[int, int]) -> np.ndarray:
    """Heatmap pixels (P, J, 2) of crops with regions `centers`, `sizes` (P, 2) -> image pixels (mmpose's
    `transform_preds`: pixel x of a w-wide map covers the region's [x, x + 1) * size / w)."""
    h, w = map_size
    c, s = np.asarray(centers, np.float64)[:, None], np.asarray(sizes, np.float64)[:, None]
    return xy * s / np.array([w, h], np.float64) + c - s / 2
