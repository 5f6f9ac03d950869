"""`aetrack synth`: write synthetic multi-person videos with PoseTrack 2018 and COCO ground truth."""
from __future__ import annotations

import argparse
import re

from aetrack.errors import AetrackError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth", help="generate synthetic multi-person videos with exact ground truth",
        description="Render articulated people walking, turning, waving and occluding one another, and write "
                    "OUT/videos/<name>.mp4, OUT/annotations/<name>.json (PoseTrack 2018 layout) and "
                    "OUT/coco.json (COCO keypoints of every frame, with track_id and video). The same seed "
                    "gives the same videos and byte-identical annotations.",
    )
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--videos", type=int, default=1, help="number of videos (default 1)")
    p.add_argument("--frames", type=int, default=100, help="frames per video (default 100)")
    p.add_argument("--people", type=int, default=4,
                   help="people per video; they enter and leave, so not all are on screen at once (default 4)")
    p.add_argument("--size", default="640x360", help="frame size WIDTHxHEIGHT, even numbers (default 640x360)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of the videos and of the motion (default 25)")
    p.add_argument("--camera-motion", action="store_true", help="pan and shake the camera")
    p.add_argument("--blur", action="store_true", help="add motion blur")
    p.add_argument("--name", default="synth",
                   help="video file name: NAME for one video, NAME_0000, NAME_0001, ... for several")
    p.set_defaults(run=run)


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise AetrackError(f"--size must be WIDTHxHEIGHT, like 640x360, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def run(args: argparse.Namespace) -> int:
    from aetrack.data.synth import video_codec, write_dataset

    size = parse_size(args.size)
    paths = write_dataset(args.out, seed=args.seed, videos=args.videos, frames=args.frames, people=args.people,
                          size=size, fps=args.fps, camera_motion=args.camera_motion, blur=args.blur,
                          name=args.name, progress=True)
    print(f"wrote {len(paths)} video(s) of {args.frames} frames at {size[0]}x{size[1]} ({video_codec()}) "
          f"with PoseTrack annotations and coco.json to {args.out}")
    return 0
