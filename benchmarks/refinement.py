"""Refinement benchmark (the paper's Table 5 layout): per-frame COCO AP of the bundled multi-person model on
held-out synthetic video without and with single-person refinement, at one scale and at several, plus the cost
of refinement per person and per frame, and the single-person model alone on ground-truth boxes.

    aetrack synth --out heldout --seed 20261125 --videos 3 --frames 100 --people 5 --size 640x360
    python benchmarks/refinement.py --gt heldout/coco.json [--weights W] [--refine R] [--scales 2 1 0.5]
        [--merge average|single]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from aetrack.cli.common import BUNDLED_REFINE_WEIGHTS, BUNDLED_WEIGHTS
from aetrack.eval.coco import evaluate_coco, poses_to_coco_results
from aetrack.inference.images import coco_frames
from aetrack.inference.predictor import Predictor
from aetrack.refine import RefineConfig, Refiner, keypoint_boxes
from aetrack.refine.merge import MERGE_RULES


def coco_ap(gt: str, results: list[dict]) -> dict[str, float]:
    return evaluate_coco(gt, results) if results else {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", required=True, help="COCO file of the held-out frames (aetrack synth's coco.json)")
    ap.add_argument("--weights", default=str(BUNDLED_WEIGHTS))
    ap.add_argument("--refine", default=str(BUNDLED_REFINE_WEIGHTS))
    ap.add_argument("--scales", type=float, nargs="+", default=[2.0, 1.0, 0.5], help="the multi-scale setting")
    ap.add_argument("--flip", action="store_true", help="flip test in both networks")
    ap.add_argument("--merge", choices=MERGE_RULES,
                    help="how joints combine (RefineConfig.merge); default as the CLI: single for the bundled "
                         "models, average otherwise")
    args = ap.parse_args()
    bundled = args.weights == str(BUNDLED_WEIGHTS) and args.refine == str(BUNDLED_REFINE_WEIGHTS)
    merge = args.merge or ("single" if bundled else "average")
    print(f"merge: {merge}")

    frames = list(coco_frames(args.gt))
    rows = []
    for scales in ([1.0], args.scales):
        predictor = Predictor.from_checkpoint(args.weights, "cpu")
        predictor.config = dataclasses.replace(predictor.config, inference=dataclasses.replace(
            predictor.config.inference, scales=tuple(scales), flip=args.flip))
        people = [(image_id, image, predictor([image])[0]) for image_id, image in frames]
        base = [r for image_id, _, poses in people for r in poses_to_coco_results(poses, image_id)]
        rows.append((scales, "none", coco_ap(args.gt, base), None))
        for post in ("default", "unbiased"):
            refiner = Refiner.from_checkpoint(args.refine, "cpu", RefineConfig(flip=args.flip, post_process=post,
                                                                                        merge=merge))
            start, results, count = time.perf_counter(), [], 0
            for image_id, image, poses in people:
                refined = refiner(image, poses)
                count += len(refined)
                results.extend(poses_to_coco_results(refined, image_id))
            seconds = time.perf_counter() - start
            rows.append((scales, post, coco_ap(args.gt, results), (1000 * seconds / len(people),
                                                                   1000 * seconds / max(count, 1))))
    # the single-person model alone, on boxes around the ground truth's joints (its own upper bound)
    gt = json.load(open(args.gt))
    truth: dict[int, list[np.ndarray]] = {}
    for a in gt["annotations"]:
        if a.get("num_keypoints", 0) >= 3:
            truth.setdefault(a["image_id"], []).append(np.array(a["keypoints"], np.float32).reshape(17, 3))
    refiner = Refiner.from_checkpoint(args.refine, "cpu", RefineConfig(flip=args.flip))
    alone = []
    for image_id, image in frames:
        if image_id in truth:
            kp = np.stack(truth[image_id])
            kp[..., 2] = kp[..., 2] > 0
            for s in refiner.keypoints(image, keypoint_boxes(kp, refiner.config.box_margin)):
                alone.append({"image_id": image_id, "category_id": 1, "keypoints": s.ravel().tolist(),
                              "score": float(s[:, 2].mean())})
    top_down = coco_ap(args.gt, alone)

    print("| scales | refinement | AP | AP50 | AP75 | ms per frame | ms per person |")
    print("|---|---|---|---|---|---|---|")
    for scales, post, stats, cost in rows:
        ms = f"{cost[0]:.1f} | {cost[1]:.1f}" if cost else "- | -"
        print(f"| {' '.join(f'{s:g}' for s in scales)} | {post} | {stats['AP']:.3f} | {stats['AP50']:.3f} | "
              f"{stats['AP75']:.3f} | {ms} |")
    print(f"\nsingle-person model alone on ground-truth joint boxes: AP {top_down['AP']:.3f} "
          f"(AP50 {top_down['AP50']:.3f}, AP75 {top_down['AP75']:.3f})")


if __name__ == "__main__":
    main()
