"""Decoder speed: ms per case for parse_reference (grouped, and grouped + refined) on the reference's 22 recorded
cases, and ms per frame for the production decoder on a synthetic 30-person, 2-D-tag, 128 x 128 frame.

    python benchmarks/decoder_speed.py [--repeats 7] [--shared ../shared]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from aetrack.config import InferenceConfig
from aetrack.decode import decode, decode_batch, parse_reference
from aetrack.skeleton import NUM_JOINTS


def best_ms(fn, repeats: int) -> float:
    """Best wall time of fn() over repeats, in ms (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def synthetic_frame(people: int = 30, size: int = 128, tag_dim: int = 2, temporal_dim: int = 8,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heatmaps (J, S, S), tags (J, S, S, D), temporal tags (J, S, S, E): people on a grid, 10% joints hidden,
    noisy tags around each joint and a little heatmap noise everywhere."""
    rng = np.random.default_rng(seed)
    det = rng.uniform(0, 0.02, (NUM_JOINTS, size, size)).astype(np.float32)
    tag = rng.normal(0, 3, (NUM_JOINTS, size, size, tag_dim)).astype(np.float32)
    tmp = rng.normal(0, 1, (NUM_JOINTS, size, size, temporal_dim)).astype(np.float32)
    grid = int(np.ceil(np.sqrt(people)))
    cell = size / grid
    yy, xx = np.mgrid[-4:5, -4:5]
    blob = np.exp(-(xx ** 2 + yy ** 2) / (2 * 1.5 ** 2)).astype(np.float32)
    for p in range(people):
        person_tag = rng.uniform(-10, 10, tag_dim).astype(np.float32)
        person_tmp = rng.normal(0, 1, temporal_dim).astype(np.float32)
        cx, cy = (p % grid + 0.5) * cell, (p // grid + 0.5) * cell
        for j in range(NUM_JOINTS):
            if rng.random() < 0.1:
                continue
            x = int(np.clip(cx + rng.uniform(-cell / 3, cell / 3), 4, size - 5))
            y = int(np.clip(cy + rng.uniform(-cell / 3, cell / 3), 4, size - 5))
            window = (j, slice(y - 4, y + 5), slice(x - 4, x + 5))
            det[window] = np.maximum(det[window], blob * rng.uniform(0.5, 1.0))
            tag[window] = person_tag + rng.normal(0, 0.05, (9, 9, tag_dim))
            tmp[window] = person_tmp
    return det, tag, tmp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    default_shared = os.environ.get("AETRACK_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")
    parser.add_argument("--shared", type=Path, default=Path(default_shared))
    args = parser.parse_args()

    cases = args.shared / "fixtures" / "pose_ae_reference" / "parser_cases.npz"
    if cases.exists():
        data = np.load(cases)
        maps = [(data[f"case{i}_det"], data[f"case{i}_tag"]) for i in range(len(data.files) // 5)]
        grouped = best_ms(lambda: [parse_reference(d, t, refine=False) for d, t in maps], args.repeats)
        refined = best_ms(lambda: [parse_reference(d, t, refine=True) for d, t in maps], args.repeats)
        n = len(maps)
        print(f"parse_reference on {n} reference cases: {grouped / n:.3f} ms/case grouped, "
              f"{refined / n:.3f} ms/case grouped + refined ({grouped + refined:.1f} ms for both passes)")
    else:
        print(f"reference cases not found at {cases}: skipping parse_reference")

    det, tag, tmp = synthetic_frame()
    config = InferenceConfig()
    one = best_ms(lambda: decode(det, tag, config, temporal=tmp), args.repeats)
    found = len(decode(det, tag, config, temporal=tmp))
    print(f"decode, 30 people, 2-D tags, 128x128: {one:.2f} ms/frame ({found} people found; issue 7 asks < 2 ms)")
    batch = 8
    det_b = torch.from_numpy(np.stack([det] * batch))
    tag_b = torch.from_numpy(np.stack([tag] * batch))
    tmp_b = torch.from_numpy(np.stack([tmp] * batch))
    many = best_ms(lambda: decode_batch(det_b, tag_b, config, temporal=tmp_b), args.repeats)
    print(f"decode_batch of {batch} such frames on CPU: {many / batch:.2f} ms/frame")


if __name__ == "__main__":
    main()
