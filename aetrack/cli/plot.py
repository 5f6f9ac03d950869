"""`aetrack plot tags|tracks`: a frame's per-joint tags (the paper's figure 3), or a run's track timeline."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aetrack.cli.common import add_model_options, run_config, weights_path
from aetrack.errors import AetrackError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot", help="plot a frame's tags or a run's tracks (needs matplotlib)",
        description="Draw PNG plots: 'tags' runs the model on one frame and shows each person's tag at each "
                    "joint, as in the paper's figure 3 (well separated values mean easy grouping); 'tracks' "
                    "draws a timeline of the track ids in a JSONL file that `aetrack track` wrote. Needs "
                    "matplotlib: pip install 'aetrack[plot]'.",
    )
    plots = p.add_subparsers(dest="plot", metavar="PLOT", required=True)

    tags = plots.add_parser("tags", help="each person's tag at each joint, for one frame",
                            description="Run the model on one frame and plot each detected person's tag value "
                                        "(y) at each joint (x), one colour per person; with tags of several "
                                        "dimensions, one panel per dimension.")
    tags.add_argument("--video", required=True, help="video file, image folder or image file")
    tags.add_argument("--frame", type=int, default=0, help="frame number in the video (default 0)")
    tags.add_argument("--people", type=int, default=10, help="plot the N highest-scoring people (default 10)")
    tags.add_argument("--out", default="tags.png", help="PNG file to write (default tags.png)")
    tags.add_argument("--size", type=int, nargs=2, default=(1000, 450), metavar=("W", "H"),
                      help="size of the PNG in pixels (default 1000 450)")
    add_model_options(tags)
    tags.set_defaults(run=run_tags)

    tracks = plots.add_parser("tracks", help="timeline of the track ids of a run",
                              description="Plot track id (y) over frame (x) from a JSONL file of `aetrack "
                                          "track` or `aetrack stream`: a segment wherever the track is present.")
    tracks.add_argument("jsonl", metavar="RESULT.jsonl", help="per-frame results written by track or stream")
    tracks.add_argument("--out", default="tracks.png", help="PNG file to write (default tracks.png)")
    tracks.add_argument("--size", type=int, nargs=2, default=(1000, 500), metavar=("W", "H"),
                        help="size of the PNG in pixels (default 1000 500)")
    tracks.set_defaults(run=run_tracks)


def _check_size(size: list[int]) -> tuple[int, int]:
    if not all(100 <= v <= 10000 for v in size):
        raise AetrackError(f"--size must be two numbers of pixels between 100 and 10000, got {size[0]} {size[1]}")
    return size[0], size[1]


def run_tags(args: argparse.Namespace) -> int:
    from aetrack.viz.plots import plot_tags, pyplot

    pyplot()  # a missing matplotlib is said before the model loads
    size = _check_size(args.size)
    if args.frame < 0 or args.people < 1:
        raise AetrackError("--frame must be at least 0 and --people at least 1")
    image = read_frame(args.video, args.frame)

    from aetrack.inference.predictor import Predictor

    config = run_config(args)
    poses = Predictor.from_checkpoint(weights_path(args), args.device, config.inference)([image])[0]
    out = plot_tags(poses, args.out, people=args.people, size=size,
                    title=f"{Path(args.video).name}, frame {args.frame}: tag of each joint, one colour per person")
    print(f"{len(poses)} people; wrote {out}", file=sys.stderr)
    return 0


def read_frame(spec: str, index: int):
    """Frame `index` of a video or image folder, or the image of an image file, as (H, W, 3) uint8 BGR."""
    from aetrack.io.sources_folder import IMAGE_SUFFIXES, read_image
    from aetrack.io.video import open_source
    from aetrack.pipeline import as_bgr

    path = Path(spec)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        image = read_image(path)
        if image is None:
            raise AetrackError(f"{path}: cannot be read as an image")
        return image
    with open_source(spec, start=index, queue_size=0) as source:
        frame = next(source, None)
    if frame is None:
        raise AetrackError(f"{spec} has no frame {index}")
    return as_bgr(frame.image)


def run_tracks(args: argparse.Namespace) -> int:
    from aetrack.io.writers import read_jsonl
    from aetrack.viz.plots import plot_tracks, pyplot, track_spans

    pyplot()
    size = _check_size(args.size)
    path = Path(args.jsonl)
    if not path.is_file():
        raise AetrackError(f"{path}: no such file")
    records, _ = read_jsonl(path)
    if not records:
        raise AetrackError(f"{path} holds no frame records: not a JSONL file of `aetrack track`, or an empty one")
    out = plot_tracks(records, args.out, size=size, title=f"{path.name}: {len(track_spans(records))} tracks over "
                                                          f"{len(records)} frames")
    print(f"wrote {out}", file=sys.stderr)
    return 0
