"""The paper's merge of the two predictions of each joint: the multi-person one and the single-person one."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from aetrack.poses import Poses


MERGE_RULES = ("average", "single")


def merge_keypoints(multi: np.ndarray, single: np.ndarray, rule: str = "average") -> np.ndarray:
    """Per joint, one position and score from the two predictions.

    rule 'average' (the paper's): the average of the two positions weighted by their scores, and the mean of the
    scores. 'single': the single-person prediction (position and score) wherever it found the joint, for a
    single-person network much more precise than the multi-person one (a weighted average drags its joints
    towards the worse prediction). multi, single: (P, 17, 3) x, y, score in the same pixels. A joint one of them
    did not find (score <= 0) takes the other's position; one neither found keeps the multi-person joint.
    """
    if rule == "single":
        found = single[..., 2:3] > 0
        return np.where(found, single, multi).astype(np.float32)
    a = np.maximum(multi[..., 2:3].astype(np.float64), 0)
    b = np.maximum(single[..., 2:3].astype(np.float64), 0)
    total = a + b
    xy = np.where(total > 0, (a * multi[..., :2] + b * single[..., :2]) / np.where(total > 0, total, 1),
                  multi[..., :2])
    return np.concatenate([xy, total / 2], -1).astype(np.float32)


def merge_poses(poses: Poses, single: np.ndarray, refined: np.ndarray | None = None, *,
                rescore: bool = False, rule: str = "average") -> Poses:
    """`poses` with the keypoints of the people `refined` (P,) bool (all by default) merged with `single`
    (P, 17, 3) by `rule` (see `merge_keypoints`). Person scores stay the decoder's unless `rescore` (then: the
    mean merged joint score); tags, joint tags and temporal tags are kept."""
    refined = np.ones(len(poses), bool) if refined is None else np.asarray(refined, bool)
    keypoints = poses.keypoints.copy()
    scores = poses.scores.copy()
    if refined.any():
        keypoints[refined] = merge_keypoints(poses.keypoints[refined], single[refined], rule)
        if rescore:
            scores[refined] = keypoints[refined, :, 2].mean(1)
    return replace(poses, keypoints=keypoints.astype(np.float32), scores=scores.astype(np.float32))
