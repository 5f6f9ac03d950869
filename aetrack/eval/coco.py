"""COCO keypoint AP/AR with pycocotools, behind input checks that turn its crashes into one-line errors."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from aetrack.errors import AetrackError
from aetrack.poses import Poses
from aetrack.skeleton import OKS_SIGMAS

# COCOeval.stats for iouType 'keypoints', in its order.
STATS_KEYS: tuple[str, ...] = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
PERSON_CATEGORY_ID = 1

_RESULT_FIELDS = ("image_id", "category_id", "keypoints", "score")
_GT_FIELDS = ("id", "image_id", "category_id")  # COCO.createIndex reads these from every annotation
_GT_KEYPOINT_FIELDS = ("keypoints", "num_keypoints", "area", "bbox", "iscrowd")  # COCOeval reads these too


def evaluate_coco(gt_path: str | os.PathLike | dict, predictions: str | os.PathLike | list[dict],
                  *, verbose: bool = False) -> dict[str, float]:
    """COCOeval keypoint stats (keys STATS_KEYS) of `predictions` (a results file or list) against `gt_path`
    (a COCO file, or COCO data already loaded).

    A stat is -1 where the ground truth has no person in its area range. `verbose` sends pycocotools' log
    and summary table to stderr; otherwise it is silenced. Bad inputs raise AetrackError.
    """
    if isinstance(gt_path, dict):
        gt, gt_path = gt_path, "the ground truth"
    else:
        gt = _read_json(gt_path, "ground truth")
    joints = _check_ground_truth(gt, str(gt_path))
    if isinstance(predictions, (str, os.PathLike)):
        source, results = str(predictions), _read_json(predictions, "predictions")
    else:
        source, results = "the predictions", predictions
    _check_results(results, joints, {image["id"] for image in gt["images"]}, source)
    with contextlib.redirect_stdout(sys.stderr if verbose else io.StringIO()):
        stats = _run_cocoeval(gt, results, sorted(joints))
    return {key: float(value) for key, value in zip(STATS_KEYS, stats)}


def poses_to_coco_results(poses: Poses, image_id: int, category_id: int = PERSON_CATEGORY_ID) -> list[dict]:
    """COCO keypoint results for the people of one image: keypoints flattened x, y, score; score = person score.

    Keypoints must already be in pixels of the original image, as COCO's ground truth is.
    """
    keypoints = np.asarray(poses.keypoints, np.float64)
    return [{"image_id": int(image_id), "category_id": int(category_id), "keypoints": person.ravel().tolist(),
             "score": float(score)} for person, score in zip(keypoints, poses.scores)]


def format_stats_table(stats: dict[str, float]) -> str:
    """The ten stats as an aligned text table, -1 shown as n/a."""
    rows = [("stat", "value", "OKS", "area")]
    for key in STATS_KEYS:
        value = "n/a" if stats[key] < 0 else f"{stats[key]:.4f}"
        threshold = {"50": "0.50", "75": "0.75"}.get(key[2:], "0.50:0.95")
        area = {"m": "medium", "l": "large"}.get(key[2:], "all")
        rows.append((key, value, threshold, area))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines + ["(COCO keypoints, at most 20 people per image)"])


def _run_cocoeval(gt: dict, results: list[dict], category_ids: list[int]) -> np.ndarray:
    """pycocotools' evaluate, accumulate and summarize on checked inputs; returns COCOeval.stats."""
    coco_gt = COCO()
    coco_gt.dataset = gt
    coco_gt.createIndex()
    coco_dt = coco_gt.loadRes([dict(r) for r in results])  # copies: loadRes writes ids, areas and boxes into them
    evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
    evaluator.params.catIds = category_ids  # a category without keypoints has no OKS
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


def _read_json(path: str | os.PathLike, what: str) -> Any:
    """The parsed content of a JSON file, or AetrackError naming the file and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise AetrackError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise AetrackError(f"{what} path is a folder, not a JSON file: {path}") from None
    except json.JSONDecodeError as exc:
        raise AetrackError(f"{what} file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                           f"{exc.msg})") from None
    except UnicodeDecodeError:
        raise AetrackError(f"{what} file {path} is not valid JSON (not UTF-8 text)") from None
    except OSError as exc:
        raise AetrackError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None


def _check_ground_truth(gt: Any, name: str) -> dict[int, int]:
    """Check a COCO keypoint ground truth; returns keypoint category id -> number of keypoints."""
    if not isinstance(gt, dict) or not all(isinstance(gt.get(k), list) for k in ("images", "annotations",
                                                                                 "categories")):
        raise AetrackError(f"{name} is not a COCO ground-truth file: it needs 'images', 'annotations' and "
                           "'categories' lists")
    for i, image in enumerate(gt["images"]):
        _require_fields(image, ("id",), f"image {i} of {name}")
    for i, category in enumerate(gt["categories"]):
        _require_fields(category, ("id",), f"category {i} of {name}")
    joints = {c["id"]: len(c["keypoints"]) for c in gt["categories"]
              if isinstance(c.get("keypoints"), list) and c["keypoints"]}
    if not joints:
        raise AetrackError(f"{name} has no category with keypoints: use a person_keypoints file, not instances")
    for category_id, count in joints.items():
        if count != len(OKS_SIGMAS):
            raise AetrackError(f"{name}: category {category_id} has {count} keypoints; COCO keypoint AP needs the "
                               f"{len(OKS_SIGMAS)} COCO keypoints (its OKS sigmas exist for those only)")
    with_keypoints = 0
    for i, ann in enumerate(gt["annotations"]):
        label = f"annotation {i} of {name}"
        _require_fields(ann, _GT_FIELDS, label)
        if ann["category_id"] in joints:
            _require_fields(ann, _GT_KEYPOINT_FIELDS, label)
            _check_keypoints(ann["keypoints"], joints[ann["category_id"]], label)
            with_keypoints += 1
    if not with_keypoints:
        raise AetrackError(f"{name} has no keypoint annotations")
    return joints


def _check_results(results: Any, joints: dict[int, int], image_ids: set, source: str) -> None:
    """Check COCO keypoint results against the ground truth's categories and images."""
    if not isinstance(results, list):
        raise AetrackError(f"{source} must hold a JSON list of keypoint results, not a {type(results).__name__}")
    if not results:
        raise AetrackError(f"{source} holds no predictions; COCO evaluation needs at least one")
    for i, result in enumerate(results):
        label = f"prediction {i} in {source}"
        _require_fields(result, _RESULT_FIELDS, label)
        category_id = result["category_id"]
        if not _is_id(category_id) or category_id not in joints:
            raise AetrackError(f"{label} has category_id {category_id!r}; the ground truth's keypoint categories "
                               f"are {sorted(joints)}")
        _check_keypoints(result["keypoints"], joints[category_id], label)
        if not _is_number(result["score"]):
            raise AetrackError(f"{label} has score {result['score']!r}, not a finite number")
        if not _is_id(result["image_id"]):
            raise AetrackError(f"{label} has image_id {result['image_id']!r}, not an id")
    _check_boxes(results, source)
    _check_image_ids(results, image_ids, source)


def _check_boxes(results: list[dict], source: str) -> None:
    """pycocotools reads every result the way its first is laid out: with boxes, if the first has one."""
    first = results[0]
    if first.get("bbox") in (None, []):
        if "segmentation" in first or "caption" in first:
            raise AetrackError(f"prediction 0 in {source} looks like a segmentation or caption result: keypoint "
                               "results carry 'keypoints' (and optionally 'bbox')")
        return  # boxes and areas come from the keypoints
    for i, result in enumerate(results):
        box = result.get("bbox")
        if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
            raise AetrackError(f"prediction {i} in {source} has no valid 'bbox' [x, y, w, h] though prediction 0 "
                               "has one: give every prediction a box or none")


def _check_image_ids(results: list[dict], image_ids: set, source: str) -> None:
    """Every result must be on an image of the ground truth (pycocotools only asserts it)."""
    unknown = [r["image_id"] for r in results if r["image_id"] not in image_ids]
    if unknown:
        # ints in numeric order, and never compared with string ids
        distinct = sorted(set(unknown), key=lambda v: (isinstance(v, str), v))
        examples = ", ".join(map(str, distinct[:3])) + (", ..." if len(distinct) > 3 else "")
        raise AetrackError(f"{len(unknown)} of {len(results)} predictions in {source} are on {len(distinct)} image "
                           f"id(s) not in the ground truth ({examples}): were they made for another annotation file?")


def _check_keypoints(values: Any, count: int, label: str) -> None:
    """Keypoints must be 3 * count finite numbers: x, y, and a score or visibility per keypoint."""
    if not isinstance(values, list) or len(values) != 3 * count:
        found = f"{len(values)} keypoint values" if isinstance(values, list) else f"keypoints {values!r}"
        raise AetrackError(f"{label} has {found}; its category has {count} keypoints, so it needs 3 x {count} = "
                           f"{3 * count} (x, y, score each)")
    if not all(_is_number(v) for v in values):
        raise AetrackError(f"{label} has keypoint values that are not finite numbers")


def _require_fields(entry: Any, fields: tuple[str, ...], label: str) -> None:
    if not isinstance(entry, dict):
        raise AetrackError(f"{label} is not a JSON object")
    missing = [f"'{field}'" for field in fields if field not in entry]
    if missing:
        raise AetrackError(f"{label} lacks {', '.join(missing)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)
