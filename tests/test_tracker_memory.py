"""The tracker's memory stays flat over a long stream in which people keep entering and leaving."""
from __future__ import annotations

import gc
import sys
import tracemalloc
from typing import Iterator

import numpy as np

from aetrack.poses import Poses
from aetrack.skeleton import NUM_JOINTS
from aetrack.track import Tracker, TrackerConfig

# A person facing the camera, x relative to the body's axis and y from the top of the head, in body heights.
TEMPLATE = np.array([
    [0.0, 0.05], [0.02, 0.03], [-0.02, 0.03], [0.05, 0.05], [-0.05, 0.05],
    [0.12, 0.20], [-0.12, 0.20], [0.15, 0.38], [-0.15, 0.38], [0.16, 0.52], [-0.16, 0.52],
    [0.08, 0.55], [-0.08, 0.55], [0.09, 0.75], [-0.09, 0.75], [0.09, 0.95], [-0.09, 0.95],
])
WIDTH, HEIGHT = 1920.0, 1080.0
CYCLE, QUIET = 2_000, 300


def crowd(frames: int, seed: int = 0, arrivals: float = 0.05, clutter: float = 0.1) -> Iterator[Poses]:
    """Poses of people who arrive (Poisson, `arrivals` per frame), walk straight for 20 to 100 frames and leave
    (about 3 at a time), with one-frame false people (`clutter` per frame), in pixels of a 1920x1080 image.

    Nothing happens in the last QUIET frames before every multiple of CYCLE, so the scene is empty there.
    """
    rng = np.random.default_rng(seed)
    people = np.zeros((0, 8))  # per person: x, y, vx, vy, height, temporal tag (2), last frame
    for t in range(frames):
        busy = (t + QUIET) % CYCLE >= QUIET
        new = rng.poisson(arrivals) if busy else 0
        if new:
            born = np.column_stack([rng.uniform(0, WIDTH, new), rng.uniform(0, HEIGHT - 300, new),
                                    rng.uniform(-4, 4, (new, 2)), rng.uniform(120, 260, new),
                                    rng.normal(0, 2, (new, 2)), t + rng.integers(20, 100, new)])
            people = np.concatenate([people, born])
        people = people[people[:, 7] >= t]
        people[:, :2] += people[:, 2:4]
        ghosts = rng.poisson(clutter) if busy else 0
        n = len(people) + ghosts
        heights = np.concatenate([people[:, 4], rng.uniform(80, 200, ghosts)])
        origins = np.concatenate([people[:, :2], rng.uniform(0, WIDTH, (ghosts, 2))])
        tags = np.concatenate([people[:, 5:7], rng.normal(0, 2, (ghosts, 2))]) + rng.normal(0, 0.1, (n, 2))
        xy = TEMPLATE * heights[:, None, None] + origins[:, None] + rng.normal(0, 2, (n, NUM_JOINTS, 2))
        joint_scores = rng.uniform(0.5, 1.0, (n, NUM_JOINTS)) * (rng.random((n, NUM_JOINTS)) > 0.1)
        keypoints = np.concatenate([xy, joint_scores[..., None]], -1).astype(np.float32)
        order = rng.permutation(n)
        yield Poses(keypoints[order], joint_scores.mean(1)[order].astype(np.float32), np.zeros((n, 1), np.float32),
                    np.zeros((n, NUM_JOINTS, 1), np.float32), tags[order].astype(np.float32))


def reachable_bytes(root: object) -> int:
    """Bytes of the objects reachable from root through attributes and containers (arrays by their data)."""
    seen, stack, total = set(), [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type) or callable(obj) and not hasattr(obj, "__dict__"):
            continue
        seen.add(id(obj))
        total += obj.nbytes if isinstance(obj, np.ndarray) else sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += list(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, np.ndarray):
            stack.append(vars(obj))
    return total


def test_memory_stays_flat_over_20000_frames():
    # The scene is empty at every multiple of CYCLE and lost tracks have aged out by then, so anything held
    # at frame 20,000 beyond what was held at frame 2,000 is a leak.
    tracker = Tracker(TrackerConfig(max_age=30))
    most_held, marks = 0, {}
    for t, poses in enumerate(crowd(20_001)):
        if t == 20_000 - CYCLE:  # trace one whole cycle of people tracked and forgotten
            tracemalloc.start()
        tracker.update(poses, t)
        most_held = max(most_held, len(tracker))
        if t in (2_000, 20_000):
            gc.collect()
            marks[t] = (len(tracker), sys.getallocatedblocks(), reachable_bytes(tracker))
    try:
        cycle_bytes, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (tracks_a, blocks_a, bytes_a), (tracks_b, blocks_b, bytes_b) = marks[2_000], marks[20_000]
    assert tracks_a == tracks_b == 0
    assert tracker._next_id > 800  # many tracks were started and removed along the way
    assert most_held < 30          # people on screen and lost tracks waiting max_age frames
    assert bytes_b - bytes_a < 256, (bytes_a, bytes_b)    # the tracker's own structures
    assert blocks_b - blocks_a < 100, (blocks_a, blocks_b)  # Python objects anywhere
    assert cycle_bytes < 8 * 1024, f"{cycle_bytes} bytes left from the last {CYCLE} frames"
