"""Per-frame COCO evaluation of videos: PoseTrack 2018 ground truth and tracker output as COCO data.

Each labelled frame becomes a COCO image and each person a COCO annotation with its keypoints in COCO order
(PoseTrack has no eyes, and head_bottom/head_top have no COCO slot, so those joints are left out on both
sides). PoseTrack has no segmentation, so a person's OKS area is its box area (`bbox`, else the extent of its
keypoints, padded by 10% per side). Prediction frames pair with ground-truth frames by position, as poseval
pairs them. Inputs are single files or folders of per-video files (`<video>.posetrack.json` matches
`<video>.json`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from aetrack.errors import AetrackError
from aetrack.io.posetrack_format import posetrack_to_coco
from aetrack.skeleton import JOINTS, LIMBS

KEYPOINT_SLOTS = 17


def is_posetrack(path: str | Path) -> bool:
    """True for a folder or a PoseTrack 2018 file (its category lists head_bottom), False for COCO files."""
    path = Path(path)
    if path.is_dir():
        return True
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    cats = data.get("categories") if isinstance(data, dict) else None
    return bool(cats) and isinstance(cats, list) and "head_bottom" in (cats[0].get("keypoints") or [])


def _pairs(gt: Path, pred: Path) -> list[tuple[Path, Path]]:
    if gt.is_file():
        if not pred.is_file():
            raise AetrackError(f"{pred}: expected a PoseTrack prediction file to go with {gt}")
        return [(gt, pred)]
    if not gt.is_dir() or not pred.is_dir():
        raise AetrackError(f"ground truth {gt} and predictions {pred} must both be files or both folders")
    preds = {p.name.replace(".posetrack.json", ".json"): p for p in pred.glob("*.json")}
    pairs = [(g, preds[g.name]) for g in sorted(gt.glob("*.json")) if g.name in preds]
    if not pairs:
        raise AetrackError(f"no prediction in {pred} has the name of a ground-truth video in {gt}")
    return pairs


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        data["images"], data.setdefault("annotations", [])
        return data
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AetrackError(f"{path}: not a PoseTrack 2018 file ({exc})") from None


def _people_by_image(data: dict) -> dict[Any, list[dict]]:
    out: dict[Any, list[dict]] = {}
    for a in data["annotations"]:
        if "keypoints" in a:
            out.setdefault(a["image_id"], []).append(a)
    return out


def _coco_keypoints(person: dict) -> np.ndarray:
    kp = np.asarray(person["keypoints"], np.float64).reshape(KEYPOINT_SLOTS, 3)
    return posetrack_to_coco(kp).astype(np.float64)


def _area(person: dict, kp: np.ndarray) -> float:
    box = person.get("bbox")
    if box and len(box) == 4 and box[2] > 0 and box[3] > 0:
        return float(box[2] * box[3])
    seen = kp[:, 2] > 0
    if not seen.any():
        return 0.0
    (x0, y0), (x1, y1) = kp[seen, :2].min(0), kp[seen, :2].max(0)
    return float((x1 - x0) * 1.2 * (y1 - y0) * 1.2)


def posetrack_as_coco(gt_path: str | Path, pred_path: str | Path) -> tuple[dict, list[dict]]:
    """COCO ground truth (dict) and COCO results (list) for PoseTrack ground truth and tracker output."""
    images, annotations, results = [], [], []
    for v, (g, p) in enumerate(_pairs(Path(gt_path), Path(pred_path))):
        gt, pred = _load(g), _load(p)
        gt_frames = [im for im in gt["images"] if im.get("is_labeled", True)]
        pred_by_position = {i: im["id"] for i, im in enumerate(gt["images"])}
        pred_ids = [im["id"] for im in pred["images"]]
        if len(pred_ids) != len(gt["images"]):
            raise AetrackError(f"{p} has {len(pred_ids)} frames but its ground truth {g} has {len(gt['images'])}")
        to_gt = {pid: pred_by_position[i] for i, pid in enumerate(pred_ids)}
        gt_people, pred_people = _people_by_image(gt), _people_by_image(pred)
        pred_for_gt: dict[Any, list[dict]] = {}
        for pid, people in pred_people.items():
            pred_for_gt.setdefault(to_gt.get(pid), []).extend(people)
        for frame in gt_frames:
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": f"{g.stem}#{frame['id']}"})
            for person in gt_people.get(frame["id"], []):
                kp = _coco_keypoints(person)
                kp[:, 2] = np.where(kp[:, 2] > 0, 2, 0)
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                    "keypoints": kp.ravel().tolist(), "num_keypoints": int((kp[:, 2] > 0).sum()),
                                    "area": _area(person, kp), "bbox": list(person.get("bbox") or [0, 0, 0, 0]),
                                    "iscrowd": 0})
            for person in pred_for_gt.get(frame["id"], []):
                kp = _coco_keypoints(person)
                scores = person.get("scores")
                if scores and len(scores) == KEYPOINT_SLOTS:
                    kp[:, 2] = posetrack_to_coco(np.c_[np.zeros((KEYPOINT_SLOTS, 2)), scores])[:, 2]
                score = person.get("score", float(kp[kp[:, 2] > 0, 2].mean()) if (kp[:, 2] > 0).any() else 0.0)
                results.append({"image_id": image_id, "category_id": 1, "keypoints": kp.ravel().tolist(),
                                "score": float(score)})
    category = {"id": 1, "name": "person", "supercategory": "person", "keypoints": list(JOINTS),
                "skeleton": [[a + 1, b + 1] for a, b in LIMBS]}
    return {"images": images, "annotations": annotations, "categories": [category]}, results
