"""`aetrack track VIDEO...`: track people in video files, image folders, folders of videos or list files."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from aetrack.cli.common import add_model_options, add_refine_options, make_refiner, refine_weights_path, run_config, \
    weights_path
from aetrack.errors import AetrackError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "track", help="track poses in video files (the main job)",
        description="Track people's poses in videos. Writes OUT/<video>.posetrack.json (PoseTrack 2018), "
                    "OUT/<video>.jsonl (one line per frame, written as frames finish) and with --render "
                    "OUT/<video>.render.mp4. Inputs: video files, image folders (one sequence each), folders of "
                    "videos, or .txt files listing one input per line. Under torchrun each process takes its "
                    "share of the videos (RANK / WORLD_SIZE). An input that cannot be read is reported on one line "
                    "and the others are still tracked (exit 1). Ctrl-C or SIGTERM stops after the current frame "
                    "with both files valid (exit 130 or 143); --resume goes on from there.",
    )
    p.add_argument("inputs", nargs="+", metavar="VIDEO", help="video file, image folder, folder of videos or list file")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    add_model_options(p)
    add_refine_options(p)
    p.add_argument("--batch", type=int, default=8, help="frames per network call (default 8)")
    p.add_argument("--render", action="store_true", help="also write a video with the tracked skeletons")
    p.add_argument("--start", help="first frame: a frame number (120) or a time in seconds (4.5s)")
    p.add_argument("--end", help="stop before this frame number or time (e.g. 300 or 12s)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames (with --resume, counting those "
                                                  "done before)")
    p.add_argument("--resume", action="store_true",
                   help="go on from where an interrupted run stopped: keep the frames in OUT/<video>.jsonl and "
                        "track the rest; the last frames done are replayed to carry track ids on (a person "
                        "lost for longer than that gets a new id, above every earlier one). Not with --render")
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
            try:
                lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
            except (OSError, UnicodeDecodeError) as exc:
                raise AetrackError(f"cannot read the list of inputs {path}: {exc}") from None
            out.extend(expand_inputs([ln for ln in lines if ln and not ln.startswith("#")]))
        else:
            out.append(item)
    return out


def my_share(items: list[str]) -> list[str]:
    """This process's videos under torchrun (RANK of WORLD_SIZE); all of them otherwise."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    return items[rank::world] if world > 1 else items


def run(args: argparse.Namespace) -> int:
    log_warnings()
    sources = my_share(expand_inputs(args.inputs))
    if not sources:
        print("aetrack: nothing to track for this process", file=sys.stderr)
        return 0
    check_arguments(args, sources)  # before torch loads: a typo fails in a fraction of a second

    from aetrack.pipeline import StopSignals, Stopped

    try:
        with StopSignals():
            return _run(args, sources)
    except Stopped as stop:  # before or between videos; within one, track_source stops it cleanly
        print(f"aetrack: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return stop.exit_code


def check_arguments(args: argparse.Namespace, sources: list[str]) -> None:
    """The checks that need no model: numbers in range, inputs and weights exist, config readable, output writable."""
    from aetrack.io.writers import output_folder

    if args.batch < 1:
        raise AetrackError("--batch must be at least 1")
    if args.max_frames is not None and args.max_frames < 1:
        raise AetrackError("--max-frames must be at least 1")
    if args.resume and args.render:
        raise AetrackError("--resume cannot continue a rendered video; resume without --render")
    for src in sources:
        if "://" not in src and not src.strip().isdigit() and not Path(src).exists():
            raise AetrackError(f"{src}: no such file or folder")
    check_model_files(args)
    output_folder(args.out)


def check_model_files(args: argparse.Namespace) -> None:
    """A missing --weights file or a bad --config fails here, before torch is imported to read the weights."""
    from aetrack.config import load_config

    if args.weights and not Path(args.weights).exists():
        raise AetrackError(f"checkpoint {args.weights}: file not found")
    refine_weights_path(args)
    if args.config:
        load_config(args.config)


def _run(args: argparse.Namespace, sources: list[str]) -> int:
    from aetrack.inference.predictor import Predictor
    from aetrack.pipeline import PoseTracker, track_source

    out = Path(args.out)
    device = args.device
    if device == "auto" and "LOCAL_RANK" in os.environ:
        import torch
        device = f"cuda:{os.environ['LOCAL_RANK']}" if torch.cuda.is_available() else "cpu"
    config = run_config(args)
    predictor = Predictor.from_checkpoint(weights_path(args), device, config.inference)
    refiner = make_refiner(args, device, config.inference)
    failures = 0
    for i, src in enumerate(sources):
        tracker = PoseTracker(predictor, config.tracker, refiner)  # a fresh tracker per video: ids start at 1
        try:
            summary = track_source(src, out, tracker, batch=args.batch, render=args.render, start=args.start,
                                   end=args.end, max_frames=args.max_frames, progress=not args.quiet,
                                   video_id=i + 1, resume=args.resume)
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
            return summary.exit_code
    return 1 if failures else 0


def log_warnings() -> None:
    """Show the library's warnings (a truncated video, a stream reconnecting) as one `aetrack: warning:` line each."""
    class OneLine(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"aetrack: {record.levelname.lower()}: {record.getMessage()}"

    package = logging.getLogger("aetrack")
    if not package.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLine())
        handler.setLevel(logging.WARNING)
        package.addHandler(handler)
