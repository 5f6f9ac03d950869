"""COCO-17 keypoints: names, flip permutation, limbs and the paper's decoding order. The one source of truth."""
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
