"""`aetrack bench`: per-stage and end-to-end speed, FLOPs per frame and fraction of the device's peak."""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile

from aetrack.cli.common import add_model_options, add_refine_options, make_refiner, refine_weights_path, run_config, \
    weights_path
from aetrack.errors import AetrackError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="time every stage of the pipeline and the whole of it",
        description="Times reading the video, preprocessing, the network, decoding people, refining them (with "
                    "--refine), tracking and writing, each on its own and as `track` runs them (every --scales "
                    "scale, --flip), then the whole `track` pipeline; prints ms per frame, frames per second, the "
                    "network's GFLOP per frame and the fraction of the device's measured matrix-multiply peak it "
                    "achieves. Without --video, a synthetic video of --size is generated.",
    )
    p.add_argument("--video", help="video to run on (default: a generated synthetic video)")
    p.add_argument("--frames", type=int, default=100, help="frames to time (default 100)")
    p.add_argument("--size", default="640x360", help="size of the generated video, WxH (default 640x360)")
    p.add_argument("--batch", type=int, default=8, help="frames per network call (default 8)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    add_model_options(p)
    add_refine_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from aetrack.bench import bench, format_table
    from aetrack.inference.predictor import Predictor

    if args.frames < 1 or args.batch < 1:
        raise AetrackError("--frames and --batch must be at least 1")
    refine_weights_path(args)  # a missing checkpoint fails before the model loads
    config = run_config(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = Predictor.from_checkpoint(weights_path(args), args.device, config.inference)
    refiner = make_refiner(args, args.device, config.inference)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            from aetrack.data.synth import write_dataset
            try:
                w, h = (int(v) for v in args.size.lower().split("x"))
            except ValueError:
                raise AetrackError(f"--size must be WxH, e.g. 640x360, got {args.size!r}") from None
            write_dataset(tmp, seed=1, videos=1, frames=args.frames, people=5, size=(w, h), name="bench")
            video = f"{tmp}/videos/bench.mp4"
        result = bench(predictor, video, args.frames, args.batch, refiner)
    if args.format == "json":
        print(json.dumps(dataclasses.asdict(result)))
    else:
        print(format_table(result))
    return 0
