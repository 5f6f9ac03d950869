"""Boxes to refine: a person's box from its keypoints, and the crop region mmpose's top-down models expect."""
from __future__ import annotations

import numpy as np

from aetrack.track.kalman import keypoint_boxes as corner_boxes  # x1, y1, x2, y2 around found joints

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
    corners = corner_boxes(kp[:, :, :2], found)
    lo, hi = corners[:, :2], corners[:, 2:]
    center = (lo + hi) / 2
    size = np.where(any_found, np.maximum((hi - lo) * margin, min_size), 0.0)
    return np.concatenate([center - size / 2, size], 1).astype(np.float32)


def stray_joints(keypoints: np.ndarray, spread: float, min_joints: int = 3) -> np.ndarray:
    """(P, 17) bool: found joints (score > 0) further from the person's median joint position than `spread`
    times the median such distance: joints grouped with the person by a tag that happens to match, on someone
    else across the image. A box around them would hold several people; people left with fewer than
    `min_joints` other joints have none marked.
    """
    kp = np.asarray(keypoints, np.float64).reshape(len(keypoints), -1, 3)
    found = kp[:, :, 2] > 0
    xy = np.where(found[..., None], kp[:, :, :2], np.nan)
    stray = np.zeros(found.shape, bool)
    usable = found.sum(1) > min_joints
    if not usable.any():
        return stray
    with np.errstate(invalid="ignore"):
        center = np.nanmedian(xy[usable], axis=1)                       # (U, 2)
        distance = np.linalg.norm(xy[usable] - center[:, None], axis=2)  # (U, 17), nan where not found
        typical = np.nanmedian(distance, axis=1)
        far = found[usable] & (distance > spread * np.maximum(typical, 1.0)[:, None])
    far[(found[usable] & ~far).sum(1) < min_joints] = False
    stray[usable] = far
    return stray


def person_boxes(keypoints: np.ndarray, margin: float = 1.0, track_boxes: np.ndarray | None = None,
                 min_iou: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """The box (P, 4) x, y, w, h to refine each person in, and whether a track box joined it (P,) bool.

    A box goes around the person's joints (`keypoint_boxes`, grown `margin` times) and is joined with the track
    box (x1, y1, x2, y2, grown alike) it overlaps most, when their IoU is at least `min_iou`: joints the decoder
    missed in this frame but the track had are then in the crop.
    """
    boxes = keypoint_boxes(keypoints, margin).astype(np.float64)
    joined = np.zeros(len(boxes), bool)
    if track_boxes is None or not len(track_boxes) or not len(boxes):
        return boxes.astype(np.float32), joined
    t = np.asarray(track_boxes, np.float64).reshape(-1, 4)
    t_center, t_size = (t[:, :2] + t[:, 2:]) / 2, (t[:, 2:] - t[:, :2]) * margin
    tracks = np.concatenate([t_center - t_size / 2, t_center + t_size / 2], 1)
    mine = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
    iou = box_iou(mine, tracks)
    best = iou.argmax(1)
    joined = (iou[np.arange(len(mine)), best] >= min_iou) & (boxes[:, 2] > 0)
    for p in np.flatnonzero(joined):
        lo = np.minimum(mine[p, :2], tracks[best[p], :2])
        hi = np.maximum(mine[p, 2:], tracks[best[p], 2:])
        boxes[p] = [*lo, *(hi - lo)]
    return boxes.astype(np.float32), joined


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (A, B) of boxes x1, y1, x2, y2 (A, 4) and (B, 4); 0 where both are empty."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), -1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), -1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), -1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
