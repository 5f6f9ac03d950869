"""Tracking benchmark: aetrack's tracker, with and without temporal tags, against greedy OKS matching.

Every method gets the same detections: ground-truth poses corrupted the way a bottom-up network's output is
(seeded; see `Corruption`), on synthetic videos with crossings and occlusions and on the real Bonn
multi-person PoseTrack test videos. Scores come from aetrack's PoseTrack evaluation (poseval's MOTA, person
IDF1 and ID switches); fps is `update` alone, per frame, on this machine.

    python benchmarks/tracking.py [--synth-videos 8] [--synth-frames 150] [--synth-people 6] [--seed 0]
        [--bonn PATH | --bonn none] [--noise 0.03] [--tag-noise 0.2] ... [--format table|json]

Bonn joints: the files hold 14 MPII / PoseTrack 2017 joints. The 12 limb joints (shoulders, elbows, wrists,
hips, knees, ankles) fill the COCO slots of the same name; neck and head_top have no COCO slot, so the trackers
never see them (OKS is taken over the shared joints), and they are carried from the corrupted ground truth to
the predictions only so that the evaluation scores all 14 joints. Nose, eyes and ears stay empty.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from aetrack.data.synth import generate_video
from aetrack.errors import AetrackError
from aetrack.eval.posetrack import evaluate_posetrack
from aetrack.eval.posetrack_io import POSETRACK_JOINTS
from aetrack.io.posetrack_format import coco_to_posetrack, posetrack_category
from aetrack.poses import Poses
from aetrack.skeleton import JOINTS, NUM_JOINTS
from aetrack.track import Tracker, TrackerConfig, Tracks
from aetrack.track.baseline import GreedyOksTracker
from aetrack.track.kalman import person_size

SHARED = Path(os.environ.get("AETRACK_SHARED", Path(__file__).resolve().parents[2] / "shared"))
BONN = SHARED / "data/posetrack/bonn_multiperson/converted/all_60_videos.posetrack17.json.tar.gz"
# COCO joint j <- PoseTrack 2017 joint COCO_FROM_POSETRACK17[j] (-1: none; Bonn also lacks the nose).
COCO_FROM_POSETRACK17 = np.array([POSETRACK_JOINTS.index(n) if n in POSETRACK_JOINTS else -1 for n in JOINTS])
NECK, HEAD_TOP = POSETRACK_JOINTS.index("neck"), POSETRACK_JOINTS.index("head_top")


@dataclass
class GroundTruthVideo:
    """One video's ground truth, frame by frame, and the same as a PoseTrack document for the evaluation.

    keypoints[t]: (P, 17, 3) COCO joints, x, y in pixels, visibility 2 seen, 1 hidden, 0 not labelled.
    head_points[t]: (P, 2, 3) neck (PoseTrack's head_bottom) and head_top, the same way.
    track_ids[t]: (P,) int64.
    """

    name: str
    keypoints: list[np.ndarray]
    head_points: list[np.ndarray]
    track_ids: list[np.ndarray]
    posetrack: dict


@dataclass
class DetectedFrame:
    """What a network gives for one frame: people (temporal tags (P, E)), and their neck and head_top (P, 2, 3)
    x, y, score, which no tracker sees but the predictions carry to the evaluation; sources (P,) is the
    ground-truth track each person comes from, -1 for false people (for diagnostics only)."""

    poses: Poses
    head_points: np.ndarray
    sources: np.ndarray


@dataclass(frozen=True)
class Corruption:
    """How ground truth becomes network-like detections; positions are fractions of the person's size (square
    root of the keypoint box area)."""

    noise: float = 0.03            # std of a seen joint's position error, per axis
    hidden_noise: float = 0.06     # the same for a hidden (occluded) joint
    drop_seen: float = 0.05        # chance a seen joint is not found
    drop_hidden: float = 0.5       # chance a hidden joint is not found
    miss_rate: float = 0.02        # chance per person and frame that a run of missed detections starts
    miss_frames: int = 5           # longest such run (uniform from 1)
    min_joints: int = 3            # people with fewer joints found are not detected
    false_positives: float = 0.1   # false people starting per frame (Poisson), each lasting 1 to 3 frames
    temporal_dim: int = 2          # E, size of the temporal (identity) tags
    tag_spread: float = 1.0        # std per dimension of a track's true temporal embedding
    tag_noise: float = 0.2         # std per dimension of one frame's temporal tag around it
    seed: int = 0


@dataclass
class Result:
    """One method on one dataset: MOTA (percent), person IDF1 (percent) and ID switches, tracker fps.

    mota is poseval's MOTA averaged over the joints the ground truth annotates; mota_poseval is poseval's own
    total, which also averages joints without ground truth that got poseval's stand-in object (see `evaluate`).
    """

    mota: float
    mota_poseval: float
    idf1: float
    id_switches: int
    fps: float
    joint_id_switches: int
    motp: float
    precision: float
    recall: float
    frames: int
    videos: int


# ---- ground truth --------------------------------------------------------------------------------------------

def synthetic_videos(videos: int, frames: int, people: int, seed: int) -> list[GroundTruthVideo]:
    """Ground truth of `aetrack.data.synth` videos (rendered for occlusion labels; the images are not kept)."""
    out = []
    for v in range(videos):
        name = f"synth_{seed}_{v:04d}"
        keypoints, heads, ids, boxes = [], [], [], []
        for frame in generate_video(seed, frames, people, index=v):
            keypoints.append(frame.keypoints)
            heads.append(frame.head_points)
            ids.append(frame.track_ids)
            boxes.append(frame.head_boxes)
        document = posetrack_document(name, [(i, k, h, None, b) for i, k, h, b in zip(ids, keypoints, heads, boxes)])
        out.append(GroundTruthVideo(name, keypoints, heads, ids, document))
    return out


def bonn_videos(path: str | Path, split: str = "test") -> list[GroundTruthVideo]:
    """The Bonn multi-person PoseTrack videos of `split` from the converted tarball, a folder of
    `*.json` files, or one PoseTrack 2017 file."""
    path = Path(path)
    if not path.exists():
        raise AetrackError(f"Bonn ground truth not found: {path} (give --bonn PATH, or --bonn none to skip it)")
    documents: list[tuple[str, dict]] = []
    if path.is_dir():
        documents = [(p.stem, json.loads(p.read_text())) for p in sorted(path.glob("*.json"))
                     if not p.name.startswith("_")]
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path) as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")
                              and Path(m.name).parent.name == split and not Path(m.name).name.startswith("_")),
                             key=lambda m: m.name)
            documents = [(Path(m.name).stem, json.load(tar.extractfile(m))) for m in members]
    else:
        documents = [(path.name.split(".")[0], json.loads(path.read_text()))]
    documents = [(name, doc) for name, doc in documents if "annolist" in doc]
    if not documents:
        raise AetrackError(f"no PoseTrack 2017 videos of split {split!r} in {path}")
    return [_bonn_video(name, doc) for name, doc in documents]


def _one(value):
    """The value itself: the 2017 layout wraps each one in a one-element list."""
    return value[0] if isinstance(value, list) else value


def _bonn_video(name: str, document: dict) -> GroundTruthVideo:
    keypoints, heads, ids = [], [], []
    for frame in document["annolist"]:
        people = [r for r in (frame.get("annorect") or []) if r.get("annopoints")]
        joints = np.zeros((len(people), len(POSETRACK_JOINTS), 3), np.float32)
        for p, rect in enumerate(people):
            annopoints = rect["annopoints"]
            for point in (annopoints if isinstance(annopoints, dict) else annopoints[0]).get("point") or []:
                seen = _one(point.get("is_visible", 1))
                joints[p, int(_one(point["id"]))] = (_one(point["x"]), _one(point["y"]), 2.0 if seen else 1.0)
        coco = np.zeros((len(people), NUM_JOINTS, 3), np.float32)
        have = COCO_FROM_POSETRACK17 >= 0
        coco[:, have] = joints[:, COCO_FROM_POSETRACK17[have]]
        keypoints.append(coco)
        heads.append(joints[:, [NECK, HEAD_TOP]])
        ids.append(np.array([int(_one(r["track_id"])) for r in people], np.int64))
    return GroundTruthVideo(name, keypoints, heads, ids, document)


# ---- detections ----------------------------------------------------------------------------------------------

def detect(video: GroundTruthVideo, corruption: Corruption, video_index: int = 0) -> list[DetectedFrame]:
    """Network-like detections of every frame of `video`, the same for the same corruption and index."""
    c = corruption
    rng = np.random.default_rng([c.seed, video_index])
    embeddings: dict[int, np.ndarray] = {}   # each track's true temporal embedding
    missed_until: dict[int, int] = {}         # frames a track's detections are missed up to (excluded)
    ghosts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # false people: end, keypoints, drift, tag
    labelled = [k[k[:, :, 2] > 0, :2] for k in video.keypoints if len(k)]
    extent = np.concatenate(labelled) if labelled else np.zeros((1, 2))
    low, high = extent.min(0), extent.max(0)
    out = []
    for t, (truth, heads, ids) in enumerate(zip(video.keypoints, video.head_points, video.track_ids)):
        rows = []
        for p, track in enumerate(ids.tolist()):
            if track not in embeddings:
                embeddings[track] = rng.normal(0.0, c.tag_spread, c.temporal_dim)
            if missed_until.get(track, 0) <= t and rng.random() < c.miss_rate:
                missed_until[track] = t + int(rng.integers(1, c.miss_frames + 1))
            joints = _corrupt(rng, np.concatenate([truth[p], heads[p]]), c)
            if t < missed_until.get(track, 0) or (joints[:NUM_JOINTS, 2] > 0).sum() < c.min_joints:
                continue
            rows.append((joints, embeddings[track] + rng.normal(0.0, c.tag_noise, c.temporal_dim), track))
        for _ in range(rng.poisson(c.false_positives) if labelled else 0):
            ghosts.append(_ghost(rng, video, t, low, high, c))
        ghosts = [g for g in ghosts if g[0] > t]
        for k, (end, joints, drift, tag) in enumerate(ghosts):
            moved = joints.copy()
            moved[:, :2] += drift
            moved[joints[:, 2] == 0] = 0.0
            ghosts[k] = (end, moved, drift, tag)
            rows.append((moved, tag + rng.normal(0.0, c.tag_noise, c.temporal_dim), -1))
        out.append(_frame(rng, [rows[i] for i in rng.permutation(len(rows))], c.temporal_dim))
    return out


def _corrupt(rng: np.random.Generator, truth: np.ndarray, c: Corruption) -> np.ndarray:
    """(J, 3) x, y, score of ground-truth joints (J, 3) with visibility: noisy, some dropped, 0 where not found."""
    seen, hidden = truth[:, 2] == 2, truth[:, 2] == 1
    size = person_size(truth[:NUM_JOINTS, :2], truth[:NUM_JOINTS, 2] > 0)
    keep = (seen & (rng.random(len(truth)) >= c.drop_seen)) | (hidden & (rng.random(len(truth)) >= c.drop_hidden))
    sigma = np.where(seen, c.noise, c.hidden_noise) * size
    xy = truth[:, :2] + rng.normal(0.0, 1.0, (len(truth), 2)) * sigma[:, None]
    score = np.where(seen, rng.uniform(0.5, 1.0, len(truth)), rng.uniform(0.15, 0.6, len(truth)))
    return np.where(keep[:, None], np.concatenate([xy, score[:, None]], 1), 0.0)


def _ghost(rng: np.random.Generator, video: GroundTruthVideo, t: int, low: np.ndarray, high: np.ndarray,
           c: Corruption) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """A false person: some real pose of the video, rescaled and moved anywhere in the scene, with weak joints."""
    frames = [k for k in video.keypoints if len(k)]
    pose = frames[rng.integers(len(frames))]
    pose = pose[rng.integers(len(pose))]
    found = (pose[:, 2] > 0) & (rng.random(NUM_JOINTS) < 0.6)
    if not found.any():
        found = pose[:, 2] > 0
    centre = pose[found, :2].mean(0)
    xy = (pose[:, :2] - centre) * rng.uniform(0.7, 1.3) + rng.uniform(low, high)
    xy += rng.normal(0.0, c.noise * person_size(pose[:, :2], pose[:, 2] > 0), xy.shape)
    joints = np.zeros((NUM_JOINTS + 2, 3))
    scores = rng.uniform(0.15, 0.5, (NUM_JOINTS, 1))
    joints[:NUM_JOINTS] = np.where(found[:, None], np.concatenate([xy, scores], 1), 0.0)
    drift = rng.normal(0.0, 2.0, 2)
    return t + int(rng.integers(1, 4)), joints, drift, rng.normal(0.0, c.tag_spread, c.temporal_dim)


def _frame(rng: np.random.Generator, rows: list[tuple[np.ndarray, np.ndarray, int]],
           temporal_dim: int) -> DetectedFrame:
    """Poses of one frame from (joints (19, 3), temporal tag (E,), source) rows, with per-frame spatial tags."""
    n = len(rows)
    joints = np.array([r[0] for r in rows], np.float32).reshape(n, NUM_JOINTS + 2, 3)
    keypoints = joints[:, :NUM_JOINTS]
    found = keypoints[..., 2] > 0
    scores = (keypoints[..., 2].sum(1) / np.maximum(found.sum(1), 1)).astype(np.float32)
    # Spatial tags (D = 1) as a network groups joints with them: one value per person in this frame, joint
    # tags close to it; no tracker uses them, they are here so the records are the network's.
    tags = rng.normal(0.0, 1.0, (n, 1)).astype(np.float32)
    joint_tags = np.where(found[..., None], tags[:, None] + rng.normal(0.0, 0.05, (n, NUM_JOINTS, 1)), 0.0)
    temporal = np.array([r[1] for r in rows], np.float32).reshape(n, temporal_dim)
    poses = Poses(keypoints, scores, tags, joint_tags.astype(np.float32), temporal)
    return DetectedFrame(poses, joints[:, NUM_JOINTS:], np.array([r[2] for r in rows], np.int64))


# ---- methods -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    """A tracker to compare: how to make one (per video), and whether it sees the temporal tags."""

    name: str
    make: Callable[[], Tracker | GreedyOksTracker]
    temporal: bool


def default_methods(config: TrackerConfig | None = None, baseline_oks: float = 0.2) -> list[Method]:
    config = config or TrackerConfig()
    return [Method("aetrack tracker, E=2", lambda: Tracker(config), True),
            Method("aetrack tracker, E=0 (pose+motion)", lambda: Tracker(config), False),
            Method("greedy OKS (previous frame)", lambda: GreedyOksTracker(min_oks=baseline_oks), False)]


def track(method: Method, frames: list[DetectedFrame]) -> tuple[list[Tracks], float]:
    """The method's tracks of every frame and the seconds spent in `update`."""
    tracker = method.make()
    inputs = [f.poses if method.temporal else _without_temporal(f.poses) for f in frames]
    start = time.perf_counter()
    out = [tracker.update(poses, t) for t, poses in enumerate(inputs)]
    return out, time.perf_counter() - start


def _without_temporal(poses: Poses) -> Poses:
    return Poses(poses.keypoints, poses.scores, poses.tags, poses.joint_tags, np.zeros((len(poses), 0), np.float32))


# ---- evaluation ----------------------------------------------------------------------------------------------

def posetrack_document(name: str, frames: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None,
                                                          np.ndarray | None]]) -> dict:
    """A video in the PoseTrack 2018 layout, one image per frame (all labelled).

    frames: per frame track ids (P,), COCO keypoints (P, 17, 3), neck and head_top (P, 2, 3) (third value > 0:
    present; it is the joint's score when `scores` is given), then per-joint scores (P, 17 PoseTrack slots) of
    predictions or None, and head boxes (P, 4) x, y, w, h of ground truth or None.
    """
    images, annotations = [], []
    for t, (ids, keypoints, heads, scores, head_boxes) in enumerate(frames):
        images.append({"id": t + 1, "file_name": f"{name}#{t:06d}", "is_labeled": True,
                       "ignore_regions_x": [], "ignore_regions_y": []})
        slots = coco_to_posetrack(keypoints, heads[:, 0], heads[:, 1]) if len(ids) else np.zeros((0, 17, 3))
        for p, track_id in enumerate(ids.tolist()):
            present = slots[p, :, 2] > 0
            flat = np.where(present[:, None], np.concatenate([slots[p, :, :2], np.ones((17, 1))], 1), 0.0)
            ann = {"image_id": t + 1, "track_id": int(track_id), "category_id": 1,
                   "keypoints": [round(float(v), 2) for v in flat.ravel()]}
            if scores is not None:
                ann["scores"] = [round(float(s), 4) for s in scores[p]]
            if head_boxes is not None:
                ann["bbox_head"] = [round(float(v), 2) for v in head_boxes[p]]
            annotations.append(ann)
    return {"images": images, "annotations": annotations, "categories": [posetrack_category()]}


def prediction_document(name: str, frames: list[DetectedFrame], tracks: list[Tracks]) -> dict:
    """A method's tracks as a PoseTrack document; neck and head_top come with each reported detection."""
    rows = []
    for frame, tr in zip(frames, tracks):
        heads = frame.head_points[tr.detection_index]
        scores = coco_to_posetrack(tr.keypoints, heads[:, 0], heads[:, 1])[..., 2] if len(tr) else None
        rows.append((tr.ids, tr.keypoints, heads, scores, None))
    return posetrack_document(name, rows)


def evaluate(videos: list[GroundTruthVideo], corruption: Corruption, methods: list[Method],
             workdir: str | Path) -> dict[str, Result]:
    """Every method on the same detections of `videos`, scored by aetrack's PoseTrack evaluation.

    In a frame where a method reports nobody, poseval gives every joint a stand-in object that is never found.
    For a joint the ground truth never annotates (Bonn has no nose) that stand-in is the joint's only object,
    so its MOTA is -100% and poseval's total drops by 100 / 15 points for one empty frame anywhere; `mota`
    therefore averages the annotated joints only.
    """
    workdir = Path(workdir)
    gt_dir = workdir / "gt"
    gt_dir.mkdir(parents=True, exist_ok=True)
    seconds = dict.fromkeys((m.name for m in methods), 0.0)
    for k, video in enumerate(videos):
        (gt_dir / f"{video.name}.json").write_text(json.dumps(video.posetrack))
        frames = detect(video, corruption, k)
        for i, method in enumerate(methods):
            tracks, spent = track(method, frames)
            seconds[method.name] += spent
            pred_dir = workdir / f"method_{i}"
            pred_dir.mkdir(exist_ok=True)
            (pred_dir / f"{video.name}.json").write_text(json.dumps(prediction_document(video.name, frames, tracks)))
    total_frames = sum(len(v.keypoints) for v in videos)
    annotated = annotated_joints(videos)
    results = {}
    for i, method in enumerate(methods):
        r = evaluate_posetrack(gt_dir, workdir / f"method_{i}")
        results[method.name] = Result(
            mota=float(np.nanmean(r.mota[annotated])), mota_poseval=r.total("mota"), idf1=float(r.person["IDF1"]),
            id_switches=int(r.person["num_switches"]), fps=total_frames / max(seconds[method.name], 1e-9),
            joint_id_switches=int(r.counts["num_switches"].sum()), motp=r.total("motp"),
            precision=r.total("precision"), recall=r.total("recall"), frames=total_frames, videos=len(videos))
    return results


def annotated_joints(videos: list[GroundTruthVideo]) -> np.ndarray:
    """(15,) bool: which of poseval's joints (POSETRACK_JOINTS) the ground truth of `videos` labels at all."""
    out = np.zeros(len(POSETRACK_JOINTS), bool)
    for video in videos:
        for keypoints, heads in zip(video.keypoints, video.head_points):
            for j, name in enumerate(POSETRACK_JOINTS):
                if name in JOINTS:
                    out[j] |= bool((keypoints[:, JOINTS.index(name), 2] > 0).any())
            out[[NECK, HEAD_TOP]] |= (heads[:, :, 2] > 0).any(0)
    return out


def run(datasets: dict[str, list[GroundTruthVideo]], corruption: Corruption,
        methods: list[Method]) -> dict[str, dict[str, Result]]:
    """Results per dataset and method, evaluated in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="aetrack_tracking_") as tmp:
        return {name: evaluate(videos, corruption, methods, Path(tmp) / f"dataset_{i}")
                for i, (name, videos) in enumerate(datasets.items())}


def format_table(results: dict[str, dict[str, Result]]) -> str:
    lines = [f"{'dataset':<28}{'method':<36}{'MOTA':>7}{'IDF1':>7}{'ID sw.':>8}{'fps':>9}"]
    for dataset, by_method in results.items():
        for method, r in by_method.items():
            lines.append(f"{dataset:<28}{method:<36}{r.mota:7.1f}{r.idf1:7.1f}{r.id_switches:8d}{r.fps:9.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth-videos", type=int, default=8, help="synthetic videos (0: none)")
    parser.add_argument("--synth-frames", type=int, default=150)
    parser.add_argument("--synth-people", type=int, default=6, help="people per synthetic video")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic videos and of the corruption")
    parser.add_argument("--bonn", default=str(BONN), help="Bonn PoseTrack 2017 ground truth (tarball, folder or "
                        "file), or 'none'")
    parser.add_argument("--bonn-split", default="test", choices=["test", "train"])
    parser.add_argument("--baseline-oks", type=float, default=0.2, help="greedy baseline's least OKS to keep an id")
    defaults = Corruption()
    for f in fields(Corruption):
        if f.name != "seed":
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(defaults, f.name)),
                                default=getattr(defaults, f.name), help="corruption (see `Corruption`)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)
    corruption = Corruption(**{f.name: getattr(args, f.name) for f in fields(Corruption)})
    try:
        datasets = {}
        if args.synth_videos > 0:
            videos = synthetic_videos(args.synth_videos, args.synth_frames, args.synth_people, args.seed)
            datasets[f"synthetic ({len(videos)} videos)"] = videos
        if args.bonn.lower() != "none":
            videos = bonn_videos(args.bonn, args.bonn_split)
            datasets[f"Bonn {args.bonn_split} ({len(videos)} videos)"] = videos
        results = run(datasets, corruption, default_methods(baseline_oks=args.baseline_oks))
    except AetrackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        corruption_args = {f.name for f in fields(Corruption)} - {"seed"}
        settings = {k: v for k, v in vars(args).items() if k != "format" and k not in corruption_args}
        print(json.dumps({"settings": settings, "corruption": asdict(corruption), "tracker": asdict(TrackerConfig()),
                          "results": {d: {m: asdict(r) for m, r in by.items()} for d, by in results.items()}},
                         indent=2))
    else:
        print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
