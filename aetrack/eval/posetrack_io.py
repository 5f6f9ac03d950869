"""Read PoseTrack ground truth and predictions (one JSON per video) into per-frame arrays, cleaned as poseval does.

Both layouts are read: PoseTrack 2017 (`annolist` / `annorect` / `annopoints` / `point`, head box `x1, y1, x2, y2`)
and PoseTrack 2018 (`images`, `annotations` with `track_id`, `keypoints` as x, y, visibility triples, `scores`,
`bbox_head` as x, y, w, h). The 2018 layout is read the way poseval converts it to 2017: a keypoint stored as
(0, 0, 0) is "not annotated"; the ears and eyes are dropped; `head_bottom` is the neck.

Cleaning follows poseval's `load_data_dir`: frames whose ground truth lists no person are dropped (with the
same frames of the predictions, which are paired by position); people without an `annopoints` list are
dropped; joints inside the ground truth's ignore regions are dropped from both sides, and so is a person left
without joints there.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aetrack.errors import AetrackError

# poseval's 15 joints, in its order (the PoseTrack 2017 point ids).
POSETRACK_JOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "nose", "head_top",
)
NUM_POSETRACK_JOINTS = len(POSETRACK_JOINTS)
# The score poseval gives a predicted joint that has none, so that it ranks last.
MIN_SCORE = -9999.0
# PoseTrack 2018 keypoint names, used when a file has no `categories` to name them.
POSETRACK18_KEYPOINTS: tuple[str, ...] = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# 2018 keypoint name -> poseval joint; the 2018 layout calls the neck head_bottom
_NAME_TO_JOINT: dict[str, int] = {("head_bottom" if n == "neck" else n): i for i, n in enumerate(POSETRACK_JOINTS)}


@dataclass
class FramePeople:
    """The people of one frame, joints in poseval's order (POSETRACK_JOINTS).

    keypoints: (P, 15, 3) float64 x, y in pixels of the frame, and score (MIN_SCORE where the file gives none).
    present: (P, 15) bool, the joint is annotated (ground truth) or predicted.
    track_ids: (P,) int64.
    head_boxes: (P, 4) float64 head box x1, y1, x2, y2 in pixels (NaN for predictions without one).
    """

    keypoints: np.ndarray
    present: np.ndarray
    track_ids: np.ndarray
    head_boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass
class VideoPair:
    """One video's ground truth and predictions after cleaning: frame i of `pred` is frame i of `gt`."""

    name: str
    gt: list[FramePeople]
    pred: list[FramePeople]


@dataclass
class _RawPerson:
    """One person as read: point ids (N,), points (N, 2), scores (N,); head box (4,) (NaN when absent)."""

    track_id: int
    head_box: np.ndarray
    ids: np.ndarray
    points: np.ndarray
    scores: np.ndarray


@dataclass
class _RawFrame:
    """One frame as read: how many people the file lists, those with joints, and ignore polygons (K, 2)."""

    num_listed: int
    people: list[_RawPerson]
    ignore: list[np.ndarray]


def load_video_pairs(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, *,
                     allow_missing: bool = False) -> tuple[list[VideoPair], list[str]]:
    """Cleaned ground truth and predictions of every video in `gt_dir` (matched by file name; a prediction
    `<video>.posetrack.json`, as `aetrack track` writes, matches ground truth `<video>.json`), and warnings.

    A video without a prediction file is an error, as in poseval, unless `allow_missing`: then it counts as a
    video with no predicted people (and a warning says so). Videos come in file-name order.
    """
    gt_files = _json_files(gt_dir, "ground truth")
    pred_folder = _folder(pred_dir, "prediction")
    # `aetrack track` names its output <video>.posetrack.json: it stands for the ground truth's <video>.json
    pred_names = {p.name.replace(".posetrack.json", ".json") for p in pred_folder.glob("*.json")}
    pred_files = {p.name.replace(".posetrack.json", ".json"): p for p in pred_folder.glob("*.json")}
    missing = [p.name for p in gt_files if p.name not in pred_names]
    if missing and not allow_missing:
        raise AetrackError(f"no prediction file for {len(missing)} of {len(gt_files)} ground-truth videos in "
                           f"{pred_folder} (e.g. {missing[0]}); predictions need one JSON per video with the "
                           "ground truth's file name (use --allow-missing to score them as empty)")
    warnings = []
    if missing:
        warnings.append(f"{len(missing)} video(s) without a prediction file scored as empty: "
                        + ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else ""))
    extra = sorted(pred_names - {p.name for p in gt_files})
    if extra:
        warnings.append(f"{len(extra)} prediction file(s) without ground truth ignored: "
                        + ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else ""))
    pairs = []
    for gt_path in gt_files:
        gt = read_frames(gt_path, ground_truth=True)
        pred_path = pred_files.get(gt_path.name, pred_folder / gt_path.name)
        pred = read_frames(pred_path) if gt_path.name in pred_names else [_RawFrame(0, [], []) for _ in gt]
        if len(pred) != len(gt):
            raise AetrackError(f"{pred_path} has {len(pred)} frames but its ground truth {gt_path} has {len(gt)}; "
                               "poseval pairs frames by position, so every frame needs an entry")
        pairs.append(_clean_pair(gt_path.stem, gt, pred))
    if not any(pair.gt for pair in pairs):
        raise AetrackError(f"the ground truth in {gt_dir} lists no person in any frame: nothing to evaluate")
    return pairs, warnings


def read_frames(path: Path, *, ground_truth: bool = False) -> list[_RawFrame]:
    """The frames of one PoseTrack JSON file (2017 or 2018 layout), in file order."""
    data = _read_json(path)
    if isinstance(data, dict) and "annolist" in data:
        frames = _frames_2017(data["annolist"], str(path))
    elif isinstance(data, dict) and "images" in data:
        frames = _frames_2018(data, str(path))
    else:
        raise AetrackError(f"{path} is in neither PoseTrack layout: it needs 'annolist' (2017) or 'images' and "
                           "'annotations' (2018)")
    for i, frame in enumerate(frames):
        if ground_truth:
            _check_head_boxes(frame, f"{path}, frame {i}")
        else:
            _check_unique_tracks(frame, f"{path}, frame {i}")
    return frames


def _clean_pair(name: str, gt: list[_RawFrame], pred: list[_RawFrame]) -> VideoPair:
    """poseval's cleaning: keep frames whose ground truth lists people, drop joints in ignore regions."""
    keep = [i for i, frame in enumerate(gt) if frame.num_listed > 0]
    return VideoPair(name, [_frame_people(gt[i].people, gt[i].ignore) for i in keep],
                     [_frame_people(pred[i].people, gt[i].ignore) for i in keep])


def _frame_people(people: list[_RawPerson], ignore: list[np.ndarray]) -> FramePeople:
    """Arrays of one frame's people; joints inside an ignore polygon are removed, then people left without any."""
    if ignore:
        people = [p for p in (_without_ignored(p, ignore) for p in people) if len(p.ids)]
    n = len(people)
    keypoints = np.zeros((n, NUM_POSETRACK_JOINTS, 3))
    present = np.zeros((n, NUM_POSETRACK_JOINTS), bool)
    for k, person in enumerate(people):
        # poseval looks a joint up as the first point with its id
        ids, first = np.unique(person.ids, return_index=True)
        keypoints[k, ids, :2] = person.points[first]
        keypoints[k, ids, 2] = person.scores[first]
        present[k, ids] = True
    track_ids = np.array([p.track_id for p in people], np.int64)
    head_boxes = np.array([p.head_box for p in people], np.float64).reshape(n, 4)
    return FramePeople(keypoints, present, track_ids, head_boxes)


def _without_ignored(person: _RawPerson, ignore: list[np.ndarray]) -> _RawPerson:
    """The person without the points that lie inside any ignore polygon."""
    inside = np.zeros(len(person.ids), bool)
    for polygon in ignore:
        inside |= points_in_polygon(person.points, polygon)
    keep = ~inside
    return _RawPerson(person.track_id, person.head_box, person.ids[keep], person.points[keep], person.scores[keep])


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: which points (N, 2) lie inside `polygon` (K, 2), by the even-odd rule.

    poseval asks shapely, whose `contains` leaves out the boundary; points exactly on an edge may differ here.
    A polygon of fewer than 3 vertices contains nothing (shapely refuses to build one).
    """
    if len(polygon) < 3 or not len(points):
        return np.zeros(len(points), bool)
    x, y = points[:, :1], points[:, 1:]  # (N, 1) against the (K,) edges
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return ((straddles & (x < crossing_x)).sum(axis=1) % 2) == 1


# --- PoseTrack 2017 layout -----------------------------------------------------------------------------------

def _frames_2017(annolist: Any, name: str) -> list[_RawFrame]:
    """Frames of an `annolist`; a person counts only with an `annopoints` entry holding `point` (as poseval)."""
    if not isinstance(annolist, list):
        raise AetrackError(f"{name}: 'annolist' must be a list of frames")
    frames = []
    for i, frame in enumerate(annolist):
        where = f"{name}, frame {i}"
        if not isinstance(frame, dict):
            raise AetrackError(f"{where} is not a JSON object")
        rects = frame.get("annorect") or []
        if not isinstance(rects, list):
            raise AetrackError(f"{where}: 'annorect' must be a list of people")
        people = [_person_2017(r, f"{where}, person {k}") for k, r in enumerate(rects) if _has_points(r)]
        ignore = [_polygon_2017(region, f"{where}, ignore region {k}")
                  for k, region in enumerate(frame.get("ignore_regions") or [])]
        frames.append(_RawFrame(len(rects), people, ignore))
    return frames


def _has_points(rect: Any) -> bool:
    """poseval's rectHasPoints: an `annopoints` list whose first entry has a `point` list (maybe empty)."""
    annopoints = rect.get("annopoints") if isinstance(rect, dict) else None
    if isinstance(annopoints, dict):
        annopoints = [annopoints]
    return bool(annopoints) and isinstance(annopoints[0], dict) and "point" in annopoints[0]


def _person_2017(rect: dict, where: str) -> _RawPerson:
    annopoints = rect["annopoints"]
    points = (annopoints if isinstance(annopoints, dict) else annopoints[0])["point"] or []
    if not isinstance(points, list):
        raise AetrackError(f"{where}: 'point' must be a list of joints")
    ids, xy, scores = [], [], []
    for k, point in enumerate(points):
        label = f"{where}, point {k}"
        if not isinstance(point, dict) or not all(key in point for key in ("id", "x", "y")):
            raise AetrackError(f"{label} needs 'id', 'x' and 'y'")
        if _scalar(point["id"], label) is None:
            continue  # poseval skips points whose id is null
        ids.append(_joint_id(point["id"], label))
        xy.append((_number(point["x"], "x", label), _number(point["y"], "y", label)))
        scores.append(_number(point["score"], "score", label) if "score" in point else MIN_SCORE)
    head = [rect.get(k) for k in ("x1", "y1", "x2", "y2")]
    head_box = (np.array([_number(v, "head box", where) for v in head]) if all(v is not None for v in head)
                else np.full(4, np.nan))
    return _RawPerson(_track_id(rect.get("track_id"), where), head_box, np.array(ids, np.int64),
                      np.array(xy, np.float64).reshape(-1, 2), np.array(scores, np.float64))


def _polygon_2017(region: Any, where: str) -> np.ndarray:
    points = region.get("point") if isinstance(region, dict) else None
    if not isinstance(points, list):
        raise AetrackError(f"{where} needs a 'point' list")
    return np.array([(_number(p.get("x"), "x", where), _number(p.get("y"), "y", where)) for p in points],
                    np.float64).reshape(-1, 2)


# --- PoseTrack 2018 layout -----------------------------------------------------------------------------------

def _frames_2018(data: dict, name: str) -> list[_RawFrame]:
    """Frames of an `images` / `annotations` file, in the order of `images`."""
    images, annotations = data.get("images"), data.get("annotations", [])
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise AetrackError(f"{name}: 'images' and 'annotations' must be lists")
    joint_of = _keypoint_table(data.get("categories"), name)
    by_image: dict[Any, list[tuple[int, dict]]] = {}
    for k, ann in enumerate(annotations):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise AetrackError(f"{name}, annotation {k} is not an object with an 'image_id'")
        by_image.setdefault(_image_key(ann["image_id"]), []).append((k, ann))
    frames = []
    for i, image in enumerate(images):
        if not isinstance(image, dict) or "id" not in image:
            raise AetrackError(f"{name}, image {i} is not an object with an 'id'")
        anns = by_image.get(_image_key(image["id"]), [])
        people = [_person_2018(ann, joint_of, f"{name}, annotation {k}") for k, ann in anns]
        frames.append(_RawFrame(len(anns), people, _polygons_2018(image, f"{name}, image {i}")))
    return frames


def _keypoint_table(categories: Any, name: str) -> np.ndarray:
    """For each keypoint of the file, its poseval joint (-1 for ears and eyes, which poseval drops)."""
    names = POSETRACK18_KEYPOINTS
    if categories:
        if not isinstance(categories, list) or not isinstance(categories[0], dict) \
                or not isinstance(categories[0].get("keypoints"), list):
            raise AetrackError(f"{name}: 'categories' must be a list whose first entry names its 'keypoints'")
        names = tuple(categories[0]["keypoints"])
    table = np.array([_NAME_TO_JOINT.get(n, -1) for n in names], np.int64)
    lacking = [n if n != "neck" else "head_bottom" for i, n in enumerate(POSETRACK_JOINTS) if i not in table]
    if lacking:
        raise AetrackError(f"{name}: the keypoint names in 'categories' lack {', '.join(lacking)}; the PoseTrack "
                           f"2018 layout names its keypoints {', '.join(POSETRACK18_KEYPOINTS)}")
    return table


def _person_2018(ann: dict, joint_of: np.ndarray, where: str) -> _RawPerson:
    count = len(joint_of)
    values = ann.get("keypoints")
    if not isinstance(values, list) or len(values) != 3 * count:
        found = f"{len(values)} keypoint values" if isinstance(values, list) else "no 'keypoints' list"
        raise AetrackError(f"{where} has {found}; its file names {count} keypoints, so it needs 3 x {count} = "
                           f"{3 * count} (x, y, visibility each)")
    keypoints = np.array([_number(v, "keypoint value", where) for v in values], np.float64).reshape(count, 3)
    scores = ann.get("scores")
    if scores:  # poseval treats an empty list as "no scores"
        if not isinstance(scores, list) or len(scores) != count:
            raise AetrackError(f"{where} has {len(scores) if isinstance(scores, list) else 'no list of'} scores; "
                               f"it needs one per keypoint ({count})")
        scores = np.array([_number(s, "score", where) for s in scores], np.float64)
    else:
        scores = np.full(count, MIN_SCORE)
    # (0, 0, 0) is how the 2018 layout writes an unannotated keypoint; other invisible ones still count
    unannotated = np.all(keypoints == 0, axis=1)
    keep = (joint_of >= 0) & ~unannotated
    box = ann.get("bbox_head")
    if isinstance(box, list) and len(box) == 4:
        x, y, w, h = (_number(v, "bbox_head", where) for v in box)
        head_box = np.array([x, y, x + w, y + h])
    else:
        head_box = np.full(4, np.nan)
    return _RawPerson(_track_id(ann.get("track_id"), where), head_box, joint_of[keep], keypoints[keep, :2],
                      scores[keep])


def _polygons_2018(image: dict, where: str) -> list[np.ndarray]:
    xs, ys = image.get("ignore_regions_x"), image.get("ignore_regions_y")
    if xs is None or ys is None:
        return []
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys) \
            or any(not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y) for x, y in zip(xs, ys)):
        raise AetrackError(f"{where}: 'ignore_regions_x' and 'ignore_regions_y' must be matching lists of lists")
    return [np.array([[_number(a, "ignore region x", where), _number(b, "ignore region y", where)]
                      for a, b in zip(x, y)], np.float64).reshape(-1, 2) for x, y in zip(xs, ys)]


# --- checks and small readers --------------------------------------------------------------------------------

def _check_head_boxes(frame: _RawFrame, where: str) -> None:
    """Every ground-truth person with joints needs a head box: it is the PCKh unit."""
    for person in frame.people:
        if len(person.ids) and np.isnan(person.head_box).any():
            raise AetrackError(f"{where}: ground-truth person with track id {person.track_id} has no head box "
                               "(x1, y1, x2, y2 in the 2017 layout, bbox_head in 2018); PCKh needs one")


def _check_unique_tracks(frame: _RawFrame, where: str) -> None:
    ids = [p.track_id for p in frame.people]
    if len(set(ids)) != len(ids):
        raise AetrackError(f"{where}: predicted track ids are not unique ({sorted(ids)}); one person per track "
                           "and frame")


def _json_files(folder: str | os.PathLike, what: str) -> list[Path]:
    files = sorted(_folder(folder, what).glob("*.json"))
    if not files:
        raise AetrackError(f"no .json files in {what} folder {folder} (one file per video expected)")
    return files


def _folder(folder: str | os.PathLike, what: str) -> Path:
    path = Path(folder)
    if not path.exists():
        raise AetrackError(f"{what} folder not found: {folder}")
    if not path.is_dir():
        raise AetrackError(f"{what} path is not a folder: {folder} (give the folder holding one JSON per video)")
    return path


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise AetrackError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise AetrackError(f"{path} is not valid JSON (not UTF-8 text)") from None
    except OSError as exc:
        raise AetrackError(f"cannot read {path}: {exc.strerror or exc}") from None


def _scalar(value: Any, where: str) -> Any:
    """The value itself: the 2017 layout wraps each one in a one-element list."""
    if isinstance(value, list):
        if len(value) != 1:
            raise AetrackError(f"{where}: expected one value, found the list {value!r}")
        return value[0]
    return value


def _number(value: Any, what: str, where: str) -> float:
    value = _scalar(value, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AetrackError(f"{where}: {what} {value!r} is not a number")
    return float(value)


def _joint_id(value: Any, where: str) -> int:
    joint = _number(value, "point id", where)
    if not joint.is_integer() or not 0 <= joint < NUM_POSETRACK_JOINTS:
        raise AetrackError(f"{where}: point id {_scalar(value, where)!r} is not a PoseTrack joint id (0..14: "
                           f"{', '.join(f'{i} {n}' for i, n in enumerate(POSETRACK_JOINTS))})")
    return int(joint)


def _track_id(value: Any, where: str) -> int:
    if value is None:
        raise AetrackError(f"{where} has no 'track_id'; tracking evaluation needs one on every person")
    track = _number(value, "track_id", where)
    if not track.is_integer():
        raise AetrackError(f"{where}: track_id {value!r} is not an integer")
    return int(track)


def _image_key(value: Any) -> Any:
    """An image id usable as a dict key (a one-element list is unwrapped)."""
    return _scalar(value, "image id") if isinstance(value, list) else value
