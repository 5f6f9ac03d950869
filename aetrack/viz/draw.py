"""Drawing poses on frames: skeletons coloured per track id, joint confidence as dot size and brightness."""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

from aetrack.skeleton import LIMBS


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour for a track id (golden-ratio hue steps)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_pose(image: np.ndarray, keypoints: np.ndarray, colour: tuple[int, int, int], label: str | None = None,
              min_score: float = 0.1) -> None:
    """Draw one person (17, 3) in place: limbs between found joints, joints sized by confidence, a label."""
    found = keypoints[:, 2] > min_score
    pts = keypoints[:, :2]
    scale = max(1, round(max(image.shape[:2]) / 640))
    for a, b in LIMBS:
        if found[a] and found[b]:
            cv2.line(image, _pt(pts[a]), _pt(pts[b]), colour, 2 * scale, cv2.LINE_AA)
    for j in np.flatnonzero(found):
        conf = float(np.clip(keypoints[j, 2], 0, 1))
        shade = tuple(int(c * (0.4 + 0.6 * conf)) for c in colour)
        cv2.circle(image, _pt(pts[j]), int(scale * (2 + 3 * conf)), shade, -1, cv2.LINE_AA)
    if label and found.any():
        x, y = pts[found].min(0)
        cv2.putText(image, label, (int(x), max(12, int(y) - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, colour,
                    scale, cv2.LINE_AA)


def draw_people(image: np.ndarray, keypoints: np.ndarray, ids: np.ndarray | None = None,
                scores: np.ndarray | None = None) -> np.ndarray:
    """A copy of a BGR frame with people (P, 17, 3) drawn; coloured by track id when ids are given."""
    out = image.copy()
    for p, kp in enumerate(keypoints):
        tid = int(ids[p]) if ids is not None else p
        label = f"{tid}" if ids is not None else None
        if label is not None and scores is not None:
            label += f" {scores[p]:.2f}"
        draw_pose(out, kp, track_colour(tid), label)
    return out


def _pt(xy: np.ndarray) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))
