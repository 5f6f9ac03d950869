"""`aetrack track VIDEO...`: track people in video files, image folders, folders of videos or list files."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from aetrack.cli.common import add_model_options, run_config, weights_path
from aetrack.errors import AetrackError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "track", help="track poses in video files (the main job)",
        description="Track people's poses in videos. Writes OUT/<video>.posetrack.json (PoseTrack 2018), "
                    "OUT/<video>.jsonl (one line per frame, written as frames finish) and with --render "
                    "OUT/<video>.render.mp4. Inputs: video files, image folders (one sequence each), folders of "
                    "videos, or .txt files listing one input per line. Under torchrun each process takes its "
                    "share of the videos (RANK / WORLD_SIZE).",
    )
    p.add_argument("inputs", nargs="+", metavar="VIDEO", help="video file, image folder, folder of videos or list file")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    add_model_options(p)
    p.add_argument("--batch", type=int, default=8, help="frames per network call (default 8)")
    p.add_argument("--render", action="store_true", help="also write a video with the tracked skeletons")
    p.add_argument("--start", help="first frame: a frame number (120) or a time in seconds (4.5s)")
    p.add_argument("--end", help="stop before this frame number or time (e.g. 300 or 12s)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def expand_inputs(inputs: list[str]) -> list[str]:
    """Video files, image folders, folders of videos and list files -> the list of sources to track."""
    out: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            out.extend(str(v) for v in videos) if videos else out.append(item)
        elif path.suffix.lower() == ".txt" and path.is_file():
            lines = [ln.strip() for ln in path.read_text().splitlines()]
            out.extend(expand_inputs([ln for ln in lines if ln and not ln.startswith("#")]))
        else:
            out.append(item)
    return out


def my_share(items: list[str]) -> list[str]:
    """This process's videos under torchrun (RANK of WORLD_SIZE); all of them otherwise."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    return items[rank::world] if world > 1 else items


def run(args: argparse.Namespace) -> int:
    from aetrack.inference.predictor import Predictor
    from aetrack.pipeline import PoseTracker, track_source

    if args.batch < 1:
        raise AetrackError("--batch must be at least 1")
    sources = my_share(expand_inputs(args.inputs))
    if not sources:
        print("aetrack: nothing to track for this process", file=sys.stderr)
        return 0
    for src in sources:  # fail before loading the model when an input plainly does not exist
        if "://" not in src and not src.strip().isdigit() and not Path(src).exists():
            raise AetrackError(f"{src}: no such file or folder")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AetrackError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise AetrackError(f"output folder {out} is not writable")
    device = args.device
    if device == "auto" and "LOCAL_RANK" in os.environ:
        import torch
        device = f"cuda:{os.environ['LOCAL_RANK']}" if torch.cuda.is_available() else "cpu"
    config = run_config(args)
    predictor = Predictor.from_checkpoint(weights_path(args), device, config.inference)
    failures = 0
    for i, src in enumerate(sources):
        tracker = PoseTracker(predictor, config.tracker)  # a fresh tracker per video: ids start at 1
        try:
            summary = track_source(src, out, tracker, batch=args.batch, render=args.render, start=args.start,
                                   end=args.end, max_frames=args.max_frames, progress=not args.quiet,
                                   video_id=i + 1)
        except AetrackError as exc:
            if len(sources) == 1:
                raise
            print(f"aetrack: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(summary.line(), file=sys.stderr)
        for path in summary.outputs:
            print(path)
        if not summary.complete:
            return 130
    return 1 if failures else 0
