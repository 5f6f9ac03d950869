"""`aetrack eval BENCHMARK`: score predictions against ground truth, one subcommand per benchmark."""
from __future__ import annotations

import argparse
import json

from aetrack.cli.eval_track import add_track_parser


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="score predictions against ground truth (COCO keypoint AP)",
        description="Score predictions against ground truth. `aetrack eval coco` gives COCO keypoint AP/AR "
                    "with pycocotools.",
    )
    p.set_defaults(run=lambda args: _print_help(p))
    benchmarks = p.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    _add_coco(benchmarks)
    add_track_parser(benchmarks)  # `aetrack eval track`: PoseTrack mAP, MOTA, IDF1 (aetrack/cli/eval_track.py)


def _add_coco(benchmarks: argparse._SubParsersAction) -> None:
    p = benchmarks.add_parser(
        "coco", help="COCO keypoint AP/AR (pycocotools)",
        description="COCO keypoint AP and AR of a results file against a COCO ground truth, computed by "
                    "pycocotools' COCOeval (iouType 'keypoints'). Inputs are checked first; problems are "
                    "reported on one line.",
    )
    p.add_argument("--gt", required=True, metavar="GT.json",
                   help="COCO ground truth with keypoint annotations (e.g. person_keypoints_val2017.json), or "
                        "PoseTrack 2018 ground truth (a file or a folder of per-video files)")
    p.add_argument("--pred", required=True, metavar="RESULTS.json",
                   help="COCO keypoint results: a JSON list of {image_id, category_id, keypoints, score}; with "
                        "PoseTrack ground truth, tracker output (<video>.posetrack.json files)")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table (default) or json: one JSON object of the ten stats on the last line of stdout")
    p.add_argument("--verbose", action="store_true", help="show pycocotools' log and summary table on stderr")
    p.set_defaults(run=_run_coco)


def _run_coco(args: argparse.Namespace) -> int:
    from aetrack.eval.coco import evaluate_coco, format_stats_table
    from aetrack.eval.posetrack_coco import is_posetrack, posetrack_as_coco

    if is_posetrack(args.gt):  # per-frame COCO AP of videos: PoseTrack ground truth and tracker output
        gt, results = posetrack_as_coco(args.gt, args.pred)
        stats = evaluate_coco(gt, results, verbose=args.verbose)
    else:
        stats = evaluate_coco(args.gt, args.pred, verbose=args.verbose)
    print(json.dumps(stats) if args.format == "json" else format_stats_table(stats))
    return 0


def _print_help(parser: argparse.ArgumentParser) -> int:
    """`aetrack eval` without a benchmark: show what there is and fail, as the top-level command does."""
    parser.print_help()
    return 2
