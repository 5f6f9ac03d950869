"""`aetrack stream --source SRC`: live tracking of a camera or network stream, JSONL written as frames finish."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from aetrack.cli.common import add_model_options, add_refine_options, make_refiner, run_config, weights_path
from aetrack.cli.track import check_model_files, log_warnings
from aetrack.errors import AetrackError

if TYPE_CHECKING:
    from aetrack.io.sources import FrameSource


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stream", help="track poses live from a camera or network stream",
        description="Track people live from a camera (--source 0), a network stream (rtsp://, http://, ...) or "
                    "any source `track` reads. Writes OUT/<source>.jsonl as frames finish and "
                    "OUT/<source>.posetrack.json; stops cleanly at the end of the stream, after --max-frames, or "
                    "on Ctrl-C or SIGTERM (exit 130 or 143, both files valid). Network streams are reopened when "
                    "they drop (5 attempts, waits growing from 0.5 s to 8 s).",
    )
    p.add_argument("--source", required=True, help="camera index (0), URL or video file")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--show", action="store_true", help="show the tracked video in a window (needs a display)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--no-realtime", action="store_true",
                   help="process every frame even when falling behind (default: drop old frames)")
    p.add_argument("--batch", type=int, default=1, help="frames per network call (default 1: lowest latency)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds a camera or stream may take to open or to send a frame (default 5)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_options(p)
    add_refine_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aetrack.io.video import open_source
    from aetrack.io.writers import output_folder

    log_warnings()
    if args.show and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux"):
        raise AetrackError("--show needs a display (DISPLAY is not set)")
    if args.max_frames is not None and args.max_frames < 1:
        raise AetrackError("--max-frames must be at least 1")
    check_model_files(args)
    output_folder(args.out)
    if args.timeout <= 0:
        raise AetrackError("--timeout must be more than 0 seconds")
    # the camera or stream first: a wrong index or URL fails before the model loads
    source = open_source(args.source, realtime=not args.no_realtime, timeout=args.timeout)

    from aetrack.pipeline import StopSignals, Stopped

    try:
        with StopSignals(), source:
            return _run(args, source)
    except Stopped as stop:  # while loading the model
        print(f"aetrack: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return stop.exit_code


def _run(args: argparse.Namespace, source: FrameSource) -> int:
    from aetrack.inference.predictor import Predictor
    from aetrack.pipeline import PoseTracker, track_source

    config = run_config(args)
    predictor = Predictor.from_checkpoint(weights_path(args), args.device, config.inference)
    pose_tracker = PoseTracker(predictor, config.tracker, make_refiner(args, args.device, config.inference))
    summary = track_source(source, Path(args.out), pose_tracker, batch=max(1, args.batch),
                           max_frames=args.max_frames, progress=not args.quiet, show=args.show)
    print(summary.line(), file=sys.stderr)
    for path in summary.outputs:
        print(path)
    return summary.exit_code
