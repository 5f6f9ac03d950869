"""`aetrack bench`: time each pipeline stage on its own and the whole pipeline, with the model's FLOPs per
frame and the fraction of the device's measured matrix-multiply peak that the network achieves. Every stage runs
as `track` runs it: at each of the inference's test scales, with flip test, and with the refiner when given."""
from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aetrack.config import Config
from aetrack.inference.geometry import Placement, placements
from aetrack.inference.inputs import network_input
from aetrack.inference.maps import FrameMaps, Maps, merge_all, output_maps, take
from aetrack.inference.people import decode_maps
from aetrack.inference.predictor import Predictor
from aetrack.refine import Refiner


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


_PEAK_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


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
    """Milliseconds per frame per stage, end-to-end frames per second, FLOPs and peak fraction.

    input_hw: the network input (height, width) at each test scale; scales and flip: the inference's;
    precision: the network's arithmetic, which the matmul peak is measured in too.
    """

    device: str
    input_hw: list[tuple[int, int]]
    scales: tuple[float, ...]
    flip: bool
    frame_size: tuple[int, int]
    batch: int
    stage_ms: dict[str, float]
    end_to_end_fps: float
    gflops_per_frame: float
    network_fps: float
    peak_tflops: float
    peak_fraction: float
    precision: str = "fp32"


def bench(predictor: Predictor, video: str, frames: int, batch: int, refiner: Refiner | None = None) -> BenchResult:
    """Time the stages on `frames` frames of `video` with `predictor` (and `refiner`, as `track --refine`)."""
    from aetrack.io.video import open_source
    from aetrack.io.writers import JsonlWriter, PoseTrackWriter
    from aetrack.pipeline import FrameResult, PoseTracker, as_bgr, frame_record, track_source
    from aetrack.track import Tracker

    dev = predictor.device
    t = time.perf_counter()
    with open_source(video, end=frames, queue_size=0) as source:
        images = [as_bgr(f.image) for f in source]
    read_ms = 1000 * (time.perf_counter() - t) / max(len(images), 1)
    if not images:
        from aetrack.errors import AetrackError
        raise AetrackError(f"{video}: no frames to benchmark")
    h, w = images[0].shape[:2]
    cfg = predictor.config
    places, base = placements(h, w, cfg.model.input_size, cfg.inference.scales, cfg.inference.resize)
    batch_images = torch.from_numpy(np.stack(images[:batch])).to(dev)
    n = len(batch_images)
    pre_ms = _best_ms(lambda: _inputs(batch_images, places, cfg), 3, dev) / n
    xs = _inputs(batch_images, places, cfg)
    with torch.inference_mode():
        net_ms = _best_ms(lambda: [predictor.model(x) for x in xs], 3, dev) / n
        outputs = [output_maps(predictor.model(x), cfg.model) for x in xs]
    dec_ms = _best_ms(lambda: decode_maps(_merged(outputs, places, base, n, cfg), cfg.inference), 3, dev) / n
    people = [p for i in range(0, len(images), batch)
              for p in predictor.decode(predictor.maps(torch.from_numpy(np.stack(images[i:i + batch]))))]
    tracker = Tracker(cfg.tracker)
    tracks, refine_s, track_s = [], 0.0, 0.0
    for i, image in enumerate(images):  # refined people feed the tracker, which gives the refiner its boxes
        if refiner is not None:
            t = time.perf_counter()
            people[i] = refiner(image, people[i], tracker.predicted_boxes(i)[1])
            refine_s += time.perf_counter() - t
        t = time.perf_counter()
        tracks.append(tracker.update(people[i], i))
        track_s += time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        with JsonlWriter(Path(tmp) / "b.jsonl") as jl, PoseTrackWriter(Path(tmp) / "b.json", "b") as pt:
            for i, (p, tr) in enumerate(zip(people, tracks)):
                jl.write(frame_record(FrameResult(i, i / 25, p, tr)))
                pt.add(i, tr.ids, tr.keypoints, tr.scores)
        write_ms = 1000 * (time.perf_counter() - t) / len(people)
        t = time.perf_counter()
        summary = track_source(video, tmp, PoseTracker(predictor, cfg.tracker, refiner), batch=batch,
                               max_frames=frames, progress=False)
        e2e = summary.frames / (time.perf_counter() - t)
    passes = 2 if cfg.inference.flip else 1
    flops = passes * sum(conv_flops(predictor.model, x[:1]) for x in xs)
    precision = getattr(predictor.model, "precision", "fp32")
    peak = matmul_peak(dev, _PEAK_DTYPES[precision])
    net_fps = 1000 / net_ms
    stage_ms = {"read video": read_ms, "preprocess": pre_ms, "network": net_ms, "decode people": dec_ms}
    if refiner is not None:
        stage_ms["refine"] = 1000 * refine_s / len(images)
    stage_ms.update({"track": 1000 * track_s / len(images), "write": write_ms})
    return BenchResult(str(dev), [(x.shape[2], x.shape[3]) for x in xs], tuple(cfg.inference.scales),
                       cfg.inference.flip, (w, h), batch, stage_ms, e2e, flops / 1e9, net_fps, peak / 1e12,
                       flops * net_fps / peak, precision)


def _inputs(images: torch.Tensor, places: list[Placement], cfg: Config) -> list[torch.Tensor]:
    """The network inputs for images (N, H, W, 3) at each test scale, the mirrored ones after them (N more) under
    flip test: what `Predictor.maps` runs the network on."""
    out = []
    for place in places:
        x = network_input(images, place, cfg.inference.channel_order, cfg.model)
        out.append(torch.cat([x, x.flip(-1)]) if cfg.inference.flip else x)
    return out


def _merged(outputs: list[list[Maps]], places: list[Placement], base: Placement, n: int,
            cfg: Config) -> FrameMaps:
    """The network's outputs for `_inputs` of n images merged onto the grid people are decoded on, as
    `Predictor.maps` merges them (plain and mirrored halves under flip test)."""
    if cfg.inference.flip:
        split = [([take(m, slice(0, n)) for m in o], [take(m, slice(n, None)) for m in o]) for o in outputs]
    else:
        split = [(o, None) for o in outputs]
    return merge_all(split, places, base, cfg.inference)


def format_table(r: BenchResult) -> str:
    sizes = ", ".join(f"{iw}x{ih}" for ih, iw in r.input_hw)
    scales = ", ".join(f"{s:g}" for s in r.scales)
    test = f" (scale{'s' if len(r.scales) > 1 else ''} {scales}{', flip' if r.flip else ''})"
    lines = [f"device {r.device}, frames {r.frame_size[0]}x{r.frame_size[1]} -> network input"
             f"{'s' if len(r.input_hw) > 1 else ''} {sizes}{test}, batch {r.batch}",
             f"{'stage':<15}{'ms/frame':>10}{'fps':>10}"]
    for stage, ms in r.stage_ms.items():
        lines.append(f"{stage:<15}{ms:>10.2f}{1000 / ms if ms > 0 else float('inf'):>10.1f}")
    lines.append(f"{'end to end':<15}{1000 / r.end_to_end_fps:>10.2f}{r.end_to_end_fps:>10.1f}")
    lines.append(f"network: {r.gflops_per_frame:.2f} GFLOP/frame, {r.network_fps:.1f} frames/s = "
                 f"{r.gflops_per_frame * r.network_fps / 1000:.3f} TFLOP/s, {100 * r.peak_fraction:.1f}% of the "
                 f"measured {r.precision} matmul peak ({r.peak_tflops:.3f} TFLOP/s)")
    return "\n".join(lines)
