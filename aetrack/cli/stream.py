"""`aetrack stream --source SRC`: live tracking of a camera or network stream, JSONL written as frames finish."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aetrack.cli.common import add_model_options, run_config, weights_path
from aetrack.errors import AetrackError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stream", help="track poses live from a camera or network stream",
        description="Track people live from a camera (--source 0), a network stream (rtsp://, http://, ...) or "
                    "any source `track` reads. Writes OUT/<source>.jsonl as frames finish and "
                    "OUT/<source>.posetrack.json; stops cleanly on Ctrl-C, at the end of the stream or after "
                    "--max-frames. Network streams are reopened when they drop.",
    )
    p.add_argument("--source", required=True, help="camera index (0), URL or video file")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--show", action="store_true", help="show the tracked video in a window (needs a display)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--no-realtime", action="store_true",
                   help="process every frame even when falling behind (default: drop old frames)")
    p.add_argument("--batch", type=int, default=1, help="frames per network call (default 1: lowest latency)")
    add_model_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    from aetrack.inference.predictor import Predictor
    from aetrack.pipeline import PoseTracker, track_source

    if args.show and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform != "linux"):
        raise AetrackError("--show needs a display (DISPLAY is not set)")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AetrackError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    config = run_config(args)
    predictor = Predictor.from_checkpoint(weights_path(args), args.device, config.inference)
    summary = track_source(args.source, out, PoseTracker(predictor, config.tracker), batch=max(1, args.batch),
                           realtime=not args.no_realtime, max_frames=args.max_frames, progress=True,
                           show=args.show)
    print(summary.line(), file=sys.stderr)
    for path in summary.outputs:
        print(path)
    return 0 if summary.complete else 130
