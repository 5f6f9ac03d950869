"""`aetrack eval track --gt GT --pred PRED`: PoseTrack mAP, MOTA and IDF1, computed as the official poseval does."""
from __future__ import annotations

import argparse
import json
import sys


def add_track_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `track` under `aetrack eval`."""
    p = subparsers.add_parser(
        "track", help="PoseTrack tracking metrics: AP, MOTA, MOTP (as poseval computes them) and person IDF1",
        description="Score PoseTrack predictions against ground truth: one JSON per video in each folder, "
                    "matched by file name, in the PoseTrack 2017 (annolist) or 2018 (images/annotations) layout. "
                    "Per-joint AP with PCKh@0.5 and per-joint MOTA, MOTP, precision and recall are computed "
                    "as the official evaluator poseval computes them (motmetrics), quirks included; values are "
                    "in percent, as poseval prints them. Person-level IDF1 and ID switches are added: a "
                    "predicted person matches a ground-truth person with half of its joints within PCKh@0.5.",
    )
    p.add_argument("--gt", required=True, metavar="GT_DIR", help="folder of ground-truth JSON files, one per video")
    p.add_argument("--pred", required=True, metavar="PRED_DIR",
                   help="folder of prediction JSON files with the ground truth's file names")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="table (default) or json: one JSON object on the last line of stdout, in percent, null "
                        "where undefined; keys mAP, MOTA, MOTP, precision, recall, num_switches (joint-level, "
                        "summed over joints), IDF1 (person-level), groups, per_joint, person")
    p.add_argument("--allow-missing", action="store_true",
                   help="score a video without a prediction file as empty (a warning names it) instead of failing")
    p.set_defaults(run=run_track)


def run_track(args: argparse.Namespace) -> int:
    """Evaluate and print the table or the JSON line; warnings go to stderr."""
    from aetrack.eval.posetrack import evaluate_posetrack, format_table, result_to_dict

    result = evaluate_posetrack(args.gt, args.pred, allow_missing=args.allow_missing)
    for warning in result.warnings:
        print(f"aetrack: warning: {warning}", file=sys.stderr)
    print(json.dumps(result_to_dict(result)) if args.format == "json" else format_table(result))
    return 0
