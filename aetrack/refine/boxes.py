"""Boxes to refine: a person's box from its keypoints, and the crop region mmpose's top-down models expect."""
from __future__ import annotations

import numpy as np

PADDING = 1.25  # context around the box, as mmpose's top-down test path


def box_to_center_scale(bbox_xywh, input_size=(256, 256), padding: float = PADDING) -> tuple[np.ndarray, np.ndarray]:
    """The crop region of a box (x, y, w, h): centre (x, y) and size (w, h) in image pixels.

    As mmpose 0.29's top-down `_xywh2cs` at test time: the box grows to the aspect ratio of `input_size` (w, h),
    then by `padding`; mmpose's scale is this size / 200.
    """
    x, y, w, h = (float(v) for v in np.asarray(bbox_xywh, np.float64).reshape(4))
    aspect = input_size[0] / input_size[1]
    center = np.array([x + w * 0.5, y + h * 0.5], np.float64)
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return center, np.array([w, h], np.float64) * padding


def regions(boxes_xywh: np.ndarray, input_size=(256, 256), padding: float = PADDING) -> tuple[np.ndarray, np.ndarray]:
    """`box_to_center_scale` of many boxes (P, 4): centres (P, 2) and sizes (P, 2) in image pixels."""
    boxes = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    pairs = [box_to_center_scale(b, input_size, padding) for b in boxes]
    return (np.array([c for c, _ in pairs], np.float64).reshape(-1, 2),
            np.array([s for _, s in pairs], np.float64).reshape(-1, 2))


def keypoint_boxes(keypoints: np.ndarray, margin: float = 1.0, min_size: float = 1.0) -> np.ndarray:
    """Boxes (P, 4) x, y, w, h around each person's joints with score > 0, grown `margin` times about their centre.

    keypoints: (P, 17, 3) x, y, score in image pixels. A person without joints gets an all-zero box; sides are at
    least `min_size` pixels.
    """
    kp = np.asarray(keypoints, np.float64).reshape(len(keypoints), -1, 3)
    found = kp[:, :, 2] > 0
    any_found = found.any(1)[:, None]
    lo = np.where(any_found, np.where(found[..., None], kp[:, :, :2], np.inf).min(1), 0.0)
    hi = np.where(any_found, np.where(found[..., None], kp[:, :, :2], -np.inf).max(1), 0.0)
    center = (lo + hi) / 2
    size = np.where(any_found, np.maximum((hi - lo) * margin, min_size), 0.0)
    return np.concatenate([center - size / 2, size], 1).astype(np.float32)
