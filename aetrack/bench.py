"""`aetrack bench`: time each pipeline stage on its own and the whole pipeline, with the model's FLOPs per
frame and the fraction of the device's measured matrix-multiply peak that the network achieves."""
from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aetrack.inference.geometry import placements
from aetrack.inference.inputs import network_input
from aetrack.inference.people import decode_maps
from aetrack.inference.predictor import Predictor


def conv_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds x 2 of every convolution (and linear layer) for one forward pass of input x."""
    total = 0

    def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += 2 * k * output.numel()
        elif isinstance(module, torch.nn.Linear):
            total += 2 * module.in_features * output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 0.5) -> float:
    """Achieved FLOP/s of a large square matrix multiply: the practical peak we compare the network with."""
    n = 4096 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end or best == 0.0:
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_ms(fn, repeats: int, device: torch.device) -> float:
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best * 1000


@dataclasses.dataclass
class BenchResult:
    """Milliseconds per frame per stage, end-to-end frames per second, FLOPs and peak fraction."""

    device: str
    input_hw: tuple[int, int]
    frame_size: tuple[int, int]
    batch: int
    stage_ms: dict[str, float]
    end_to_end_fps: float
    gflops_per_frame: float
    network_fps: float
    peak_tflops: float
    peak_fraction: float


def bench(predictor: Predictor, video: str, frames: int, batch: int) -> BenchResult:
    """Time the stages on `frames` frames of `video` with `predictor`."""
    from aetrack.io.video import open_source
    from aetrack.io.writers import JsonlWriter, PoseTrackWriter
    from aetrack.pipeline import PoseTracker, frame_record, track_source
    from aetrack.track import Tracker

    dev = predictor.device
    t = time.perf_counter()
    with open_source(video, end=frames, queue_size=0) as source:
        images = [f.image for f in source]
    read_ms = 1000 * (time.perf_counter() - t) / max(len(images), 1)
    if not images:
        from aetrack.errors import AetrackError
        raise AetrackError(f"{video}: no frames to benchmark")
    h, w = images[0].shape[:2]
    cfg = predictor.config
    box = placements(h, w, cfg.model.input_size, (1.0,), cfg.inference.resize)[1]
    batch_images = torch.from_numpy(np.stack(images[:batch])).to(dev)
    n = len(batch_images)
    pre_ms = _best_ms(lambda: network_input(batch_images, box, cfg.inference.channel_order, cfg.model), 3, dev) / n
    x = network_input(batch_images, box, cfg.inference.channel_order, cfg.model)
    with torch.inference_mode():
        net_ms = _best_ms(lambda: predictor.model(x), 3, dev) / n
        fm = predictor.maps(batch_images)
    dec_ms = _best_ms(lambda: decode_maps(fm, cfg.inference), 3, dev) / n
    people = [p for i in range(0, len(images), batch)
              for p in predictor.decode(predictor.maps(torch.from_numpy(np.stack(images[i:i + batch]))))]
    tracker = Tracker(cfg.tracker)
    t = time.perf_counter()
    tracks = [tracker.update(p, i) for i, p in enumerate(people)]
    track_ms = 1000 * (time.perf_counter() - t) / len(people)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        with JsonlWriter(Path(tmp) / "b.jsonl") as jl, PoseTrackWriter(Path(tmp) / "b.json", "b") as pt:
            from aetrack.pipeline import FrameResult
            for i, (p, tr) in enumerate(zip(people, tracks)):
                jl.write(frame_record(FrameResult(i, i / 25, p, tr)))
                pt.add(i, tr.ids, tr.keypoints, tr.scores)
        write_ms = 1000 * (time.perf_counter() - t) / len(people)
        t = time.perf_counter()
        summary = track_source(video, tmp, PoseTracker(predictor, cfg.tracker), batch=batch, max_frames=frames,
                               progress=False)
        e2e = summary.frames / (time.perf_counter() - t)
    flops = conv_flops(predictor.model, x[:1]) * len(cfg.inference.scales) * (2 if cfg.inference.flip else 1)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    peak = matmul_peak(dev, dtype)
    net_fps = 1000 / net_ms
    return BenchResult(str(dev), (x.shape[2], x.shape[3]), (w, h), batch,
                       {"read video": read_ms, "preprocess": pre_ms, "network": net_ms, "decode people": dec_ms,
                        "track": track_ms, "write": write_ms},
                       e2e, flops / 1e9, net_fps, peak / 1e12, flops * net_fps / peak)


def format_table(r: BenchResult) -> str:
    lines = [f"device {r.device}, frames {r.frame_size[0]}x{r.frame_size[1]} -> network input "
             f"{r.input_hw[1]}x{r.input_hw[0]}, batch {r.batch}",
             f"{'stage':<15}{'ms/frame':>10}{'fps':>10}"]
    for stage, ms in r.stage_ms.items():
        lines.append(f"{stage:<15}{ms:>10.2f}{1000 / ms if ms > 0 else float('inf'):>10.1f}")
    lines.append(f"{'end to end':<15}{1000 / r.end_to_end_fps:>10.2f}{r.end_to_end_fps:>10.1f}")
    lines.append(f"network: {r.gflops_per_frame:.2f} GFLOP/frame, {r.network_fps:.1f} frames/s = "
                 f"{r.gflops_per_frame * r.network_fps / 1000:.3f} TFLOP/s, {100 * r.peak_fraction:.1f}% of the "
                 f"measured matmul peak ({r.peak_tflops:.3f} TFLOP/s)")
    return "\n".join(lines)
