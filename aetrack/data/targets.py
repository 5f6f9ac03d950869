"""Training targets from people's keypoints: Gaussian heatmaps, joint indices for the tag loss, ignore masks.

Everything is in output (heatmap) pixels with pixel i spanning [i, i + 1) (the convention of
aetrack/inference/geometry.py and the reference decoder): a joint at (x, y) is on pixel (floor(x), floor(y)).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def default_sigma(out_size: tuple[int, int]) -> float:
    """Gaussian sigma in output pixels: the longer side / 64, as the reference (2 for a 128 map)."""
    return max(out_size) / 64.0


def _joint_pixels(keypoints: np.ndarray, out_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixels (P, 17, 2) x, y of keypoints (P, 17, 3) and whether each is visible and on the map."""
    h, w = out_size
    # Non-finite or far-off coordinates become -1 (off the map) rather than overflowing the integer cast.
    coords = np.nan_to_num(keypoints[..., :2], nan=-1.0, posinf=-1.0, neginf=-1.0)
    xy = np.floor(np.clip(coords, -1, max(h, w))).astype(np.int64)
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
    return xy, inside & (keypoints[..., 2] > 0)


def render_heatmaps(keypoints: np.ndarray, out_size: tuple[int, int], sigma: float | None = None) -> np.ndarray:
    """Heatmaps (17, h, w) float32 from keypoints (P, 17, 3) x, y, visibility in output pixels.

    An unnormalised Gaussian (peak 1) on each visible joint's pixel, cut to a window of radius
    floor(3 sigma + 1) as the reference; where people overlap the maximum wins.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, *np.shape(keypoints)[-2:])
    h, w = out_size
    joints = keypoints.shape[1]
    heatmaps = np.zeros((joints, h, w), np.float32)
    sigma = default_sigma(out_size) if sigma is None else float(sigma)
    xy, use = _joint_pixels(keypoints, out_size)
    _, joint = np.nonzero(use)
    if len(joint) == 0:
        return heatmaps
    radius = int(3 * sigma + 1)
    offsets = np.arange(-radius, radius + 1)
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2)).astype(np.float32)
    centres = xy[use]                                                     # (V, 2)
    ys = centres[:, 1, None, None] + offsets[None, :, None]               # (V, S, 1)
    xs = centres[:, 0, None, None] + offsets[None, None, :]               # (V, 1, S)
    ys, xs = np.broadcast_arrays(ys, xs)
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)                  # (V, S, S)
    channel = np.broadcast_to(joint[:, None, None], ys.shape)
    values = np.broadcast_to(window, ys.shape)
    # maximum.at is unbuffered, so overlapping windows of one joint type keep the larger value.
    np.maximum.at(heatmaps, (channel[inside], ys[inside], xs[inside]), values[inside])
    return heatmaps


def joint_indices(keypoints: np.ndarray, out_size: tuple[int, int], max_people: int) -> np.ndarray:
    """Joints (max_people, 17, 2) int64 [flat index j*h*w + y*w + x, visible] for the tag loss.

    Row p is person p (so slots line up with tracks across a clip's frames); joints hidden or off the map,
    and unused slots, are [0, 0]. People beyond max_people are dropped.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, *np.shape(keypoints)[-2:])[:max_people]
    h, w = out_size
    people, joints = keypoints.shape[:2]
    out = np.zeros((max_people, joints, 2), np.int64)
    xy, use = _joint_pixels(keypoints, out_size)
    flat = np.arange(joints)[None, :] * (h * w) + xy[..., 1] * w + xy[..., 0]
    out[:people, :, 0] = np.where(use, flat, 0)
    out[:people, :, 1] = use
    return out


def ignore_mask(out_size: tuple[int, int], polygons: Sequence[np.ndarray] = (), boxes: np.ndarray | None = None,
                regions: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Mask (h, w) float32, 1 = use the pixel, 0 inside crowds and people without keypoint annotations.

    polygons: (V, 2) x, y outlines; boxes: (B, 4) x0, y0, x1, y1; regions: (h, w) boolean masks already
    warped to the map (e.g. decoded crowd RLEs). All in output pixels.
    """
    h, w = out_size
    ignored = np.zeros((h, w), bool)
    for polygon in polygons:
        _fill_polygon(ignored, np.asarray(polygon, np.float64).reshape(-1, 2))
    if boxes is not None and len(boxes):
        box = np.asarray(boxes, np.float64).reshape(-1, 4)
        centres_x = np.arange(w) + 0.5
        centres_y = np.arange(h) + 0.5
        in_x = (centres_x[None] >= box[:, :1]) & (centres_x[None] <= box[:, 2:3])   # (B, w)
        in_y = (centres_y[None] >= box[:, 1:2]) & (centres_y[None] <= box[:, 3:4])  # (B, h)
        ignored |= (in_y[:, :, None] & in_x[:, None, :]).any(0)
    for region in regions:
        ignored |= np.asarray(region, bool)
    return (~ignored).astype(np.float32)


def _fill_polygon(ignored: np.ndarray, outline: np.ndarray) -> None:
    """Set pixels of ignored (h, w) whose centres lie inside outline (V, 2) x, y (even-odd rule), in place."""
    if len(outline) < 3 or not np.all(np.isfinite(outline)):
        return
    h, w = ignored.shape
    # Only the rows and columns of the outline's bounding box can be inside.
    y0, y1 = max(int(np.floor(outline[:, 1].min())), 0), min(int(np.ceil(outline[:, 1].max())), h)
    x0, x1 = max(int(np.floor(outline[:, 0].min())), 0), min(int(np.ceil(outline[:, 0].max())), w)
    if y0 >= y1 or x0 >= x1:
        return
    cy = np.arange(y0, y1)[:, None] + 0.5                                  # (H, 1) pixel centres
    cx = np.arange(x0, x1)[None, None, :] + 0.5                            # (1, 1, W)
    (ax, ay), (bx, by) = outline.T, np.roll(outline, -1, 0).T              # edges a -> b, (E,) each
    spans = (ay[None] > cy) != (by[None] > cy)                             # (H, E) edge crosses the row
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = ax + (cy - ay) * (bx - ax) / (by - ay)                     # (H, E) crossing x
    crossings = (spans[:, :, None] & (cx < cross[:, :, None])).sum(1)     # (H, W) crossings to the right
    ignored[y0:y1, x0:x1] |= crossings % 2 == 1
