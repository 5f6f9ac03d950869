"""Tracker speed: milliseconds per frame for 5, 20 and 50 synthetic people walking over 1000 frames.

    python benchmarks/tracker_speed.py [--frames 1000] [--people 5 20 50] [--temporal-dim 8]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from aetrack.poses import Poses
from aetrack.skeleton import NUM_JOINTS
from aetrack.track import Tracker, TrackerConfig

WIDTH, HEIGHT = 1920, 1080
# A standing person, x from the body's axis and y from the top of the head, in body heights.
TEMPLATE = np.array([
    [0.0, 0.05], [0.02, 0.03], [-0.02, 0.03], [0.05, 0.05], [-0.05, 0.05],
    [0.12, 0.20], [-0.12, 0.20], [0.15, 0.38], [-0.15, 0.38], [0.16, 0.52], [-0.16, 0.52],
    [0.08, 0.55], [-0.08, 0.55], [0.09, 0.75], [-0.09, 0.75], [0.09, 0.95], [-0.09, 0.95],
])


def walk(people: int, frames: int, temporal_dim: int, seed: int = 0) -> list[Poses]:
    """People walking at constant speed, bouncing off the image borders; noisy joints, 10% missing."""
    rng = np.random.default_rng(seed)
    heights = rng.uniform(120, 260, people)
    position = rng.uniform([0, 0], [WIDTH, HEIGHT], (people, 2))
    velocity = rng.uniform(-4, 4, (people, 2))
    tags = rng.normal(0, 3, (people, temporal_dim))
    out = []
    for _ in range(frames):
        position += velocity
        low, high = np.zeros(2), np.array([WIDTH, HEIGHT])
        velocity = np.where((position < low) | (position > high), -velocity, velocity)
        xy = TEMPLATE[None] * heights[:, None, None] + position[:, None] + rng.normal(0, 2, (people, NUM_JOINTS, 2))
        joint_scores = rng.uniform(0.5, 1.0, (people, NUM_JOINTS)) * (rng.random((people, NUM_JOINTS)) > 0.1)
        keypoints = np.concatenate([xy, joint_scores[..., None]], -1).astype(np.float32)
        order = rng.permutation(people)
        temporal = (tags + rng.normal(0, 0.05, tags.shape)).astype(np.float32)
        out.append(Poses(keypoints[order], joint_scores.mean(1)[order].astype(np.float32),
                         np.zeros((people, 1), np.float32), np.zeros((people, NUM_JOINTS, 1), np.float32),
                         temporal[order]))
    return out


def time_tracker(frames: list[Poses], config: TrackerConfig) -> float:
    """Seconds per frame of `Tracker.update` over the frames."""
    tracker = Tracker(config)
    start = time.perf_counter()
    for t, poses in enumerate(frames):
        tracker.update(poses, t)
    return (time.perf_counter() - start) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--people", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--temporal-dim", type=int, default=8, help="temporal tag size E (0: pose and motion only)")
    args = parser.parse_args()
    config = TrackerConfig(smooth_keypoints=True)
    print(f"{args.frames} frames, E = {args.temporal_dim}")
    print(f"{'people':>6} {'ms/frame':>9} {'ms/person':>10}")
    for people in args.people:
        seconds = time_tracker(walk(people, args.frames, args.temporal_dim), config)
        print(f"{people:>6} {seconds * 1e3:>9.2f} {seconds * 1e3 / people:>10.3f}")


if __name__ == "__main__":
    main()
