"""The PoseTrack writer's estimates of the two head joints COCO lacks."""
from __future__ import annotations

import numpy as np

from aetrack.data.synth import generate_video
from aetrack.io.writers import head_points


def test_head_points_land_within_pckh_of_the_generated_head_joints():
    """head_bottom and head_top from COCO joints hit the generator's own within PoseTrack's PCKh@0.5 distance
    (0.3 of the head box diagonal) for almost every person, whichever way the head turns (a seed the estimator
    was not fitted on)."""
    hits, total = np.zeros(2), 0
    for frame in generate_video(31, 40, 5, index=0):
        full = (frame.keypoints[:, :7, 2] > 0).all(1) & (frame.head_points[:, :, 2] > 0).all(1)
        if not full.any():
            continue
        estimated = np.stack(head_points(frame.keypoints[full]), 1)          # (P, 2, 3) bottom, top
        limit = 0.3 * np.hypot(frame.head_boxes[full, 2], frame.head_boxes[full, 3])
        error = np.linalg.norm(estimated[..., :2] - frame.head_points[full, :, :2], axis=-1)
        hits += (error <= limit[:, None]).sum(0)
        total += int(full.sum())
    assert total > 50
    assert (hits / total >= 0.9).all(), hits / total


def test_head_points_are_unknown_without_the_joints_they_come_from():
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[:, :, 2] = 0.9
    keypoints[1, 3:5, 2] = 0.0          # no ears: head_top cannot be placed, head_bottom can
    bottom, top = head_points(keypoints)
    assert (bottom[:, 2] > 0).all()
    assert top[0, 2] > 0 and np.allclose(top[1], 0)
