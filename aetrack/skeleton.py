"""COCO-17 keypoints: names, flip permutation, limbs, the paper's decoding order and OKS. The one source of truth."""
from __future__ import annotations

import numpy as np

JOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_JOINTS = len(JOINTS)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINTS)}


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


# FLIP[j] is the joint that j becomes in a horizontally mirrored image.
FLIP: np.ndarray = np.array([JOINT_INDEX[_mirror(n)] for n in JOINTS], dtype=np.int64)

# Limbs as (joint, joint) pairs, 0-based; the COCO skeleton used for drawing and for pose similarity.
LIMBS: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

# The paper's decoding order: head and torso first (they are seen most reliably), limbs last.
# nose, eyes, ears, shoulders, hips, then elbows, wrists, knees, ankles.
DECODE_ORDER: np.ndarray = np.array([0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16], dtype=np.int64)

# COCO's per-joint OKS falloff constants (sigmas), used for pose similarity (OKS) in tracking and evaluation.
OKS_SIGMAS: np.ndarray = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
) / 10.0


def oks(reference: np.ndarray, keypoints: np.ndarray, areas: np.ndarray,
        variances: np.ndarray | None = None) -> np.ndarray:
    """Object keypoint similarity (M, N) in [0, 1] of every reference pose against every pose.

    reference: (M, 17, 3) and keypoints: (N, 17, 3) x, y, score in pixels of one image; a joint counts where its
        score is > 0 in both, and a pair with no such joint scores 0.
    areas: (M,) pixels², the scale of each reference pose (COCO uses the person's area).
    variances: (M, 17) pixels², uncertainty of the reference joints added to COCO's falloff; the tracker passes
        the Kalman prediction's, so a coasting track's gate widens as its prediction drifts.
    """
    falloff = np.asarray(areas, np.float64)[:, None] * (2 * OKS_SIGMAS) ** 2  # (M, 17)
    if variances is not None:
        falloff = falloff + variances
    d2 = ((reference[:, None, :, :2] - keypoints[None, :, :, :2]) ** 2).sum(-1)  # (M, N, 17)
    both = (reference[:, None, :, 2] > 0) & (keypoints[None, :, :, 2] > 0)
    similarity = np.exp(-d2 / (2 * np.maximum(falloff[:, None], 1e-12)))
    count = both.sum(-1)
    return np.where(count > 0, (similarity * both).sum(-1) / np.maximum(count, 1), 0.0)
