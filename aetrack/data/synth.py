"""Synthetic multi-person videos with exact ground truth: training data and the README's sample video.

`generate_video` renders frames on the fly (for training); `write_dataset` writes videos and their
annotations (`aetrack synth`):

    OUT/videos/<name>.mp4           H.264 where OpenCV can write it, MPEG-4 part 2 otherwise
    OUT/annotations/<name>.json     PoseTrack 2018 layout, every frame labelled
    OUT/coco.json                   all frames of all videos, COCO keypoints (with `track_id`, `video`)

Frames are named '<video>#<frame>' (`aetrack.io.posetrack_format.video_frame_name`), relative to OUT.
The same seed gives byte-identical annotations and identical frames (before encoding).
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from aetrack.data.synth_body import HEAD_BOTTOM, HEAD_TOP, Walker, sample_appearance, sample_build
from aetrack.data.synth_render import (
    FACE_POINTS, PersonView, Scene, draw_person, face_visible, motion_blur, sample_scene, view_person,
)
from aetrack.errors import AetrackError
from aetrack.io.posetrack_format import coco_to_posetrack, posetrack_category, video_frame_name
from aetrack.skeleton import JOINTS, LIMBS, NUM_JOINTS

MAX_PEOPLE = 100      # annotation ids are image id * 100 + track id, as in PoseTrack
MAX_FRAMES = 9999     # image ids hold the frame in 4 digits, as in PoseTrack
MAX_VIDEOS = 999999   # and the video in 6


@dataclass
class SynthFrame:
    """One generated frame and the people in it (those with at least one joint inside the frame).

    image: (H, W, 3) uint8 BGR. keypoints: (P, 17, 3) float32, COCO order, x, y in image pixels (pixel
    centres) and visibility 2 = visible, 1 = inside the frame but hidden (by a nearer person; for nose, eyes
    and ears also by the person's own head when turned away), 0 = outside the frame, stored as (0, 0, 0).
    head_points: (P, 2, 3) head_bottom and head_top (PoseTrack's extra head joints), the same way.
    track_ids: (P,) int64, stable over the video. head_boxes: (P, 4) float32 x, y, w, h of the head, not
    clipped. boxes: (P, 4) float32 x, y, w, h of the whole body, clipped to the frame. areas: (P,) float32
    pixels of the person left visible.
    """

    index: int
    image: np.ndarray
    keypoints: np.ndarray
    head_points: np.ndarray
    track_ids: np.ndarray
    head_boxes: np.ndarray
    boxes: np.ndarray
    areas: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


def check_options(frames: int, people: int, size: tuple[int, int], fps: float, seed: int = 0,
                  videos: int = 1) -> None:
    """Raise AetrackError, with a message for the user, for settings the generator cannot honour."""
    if seed < 0:
        raise AetrackError(f"seed must be 0 or more, got {seed}")
    if not 1 <= videos <= MAX_VIDEOS:
        raise AetrackError(f"videos must be between 1 and {MAX_VIDEOS}, got {videos}")
    if not 1 <= frames <= MAX_FRAMES:
        raise AetrackError(f"frames must be between 1 and {MAX_FRAMES}, got {frames}")
    if not 0 <= people <= MAX_PEOPLE:
        raise AetrackError(f"people must be between 0 and {MAX_PEOPLE}, got {people}")
    w, h = size
    if not (64 <= w <= 8192 and 64 <= h <= 8192) or w % 2 or h % 2:
        raise AetrackError(f"size must be even numbers of pixels from 64 to 8192, got {w}x{h}")
    if not (0 < fps <= 1000) or not math.isfinite(fps):
        raise AetrackError(f"fps must be above 0 (at most 1000), got {fps}")


def sample_walkers(rng: np.random.Generator, scene: Scene, frames: int, people: int) -> list[Walker]:
    """People for one video: about half inside the frame from the start, the others walking in later."""
    w = scene.size[0]
    near, far = scene.distance_range
    walkers = []
    for _ in range(people):
        build, look = sample_build(rng), sample_appearance(rng)
        distance = float(np.exp(rng.uniform(math.log(near), math.log(far))))
        cruise = float(rng.uniform(0.8, 1.8) if rng.random() < 0.85 else rng.uniform(2.2, 3.5))
        seed, phase = int(rng.integers(2**63)), float(rng.uniform(0, 2 * math.pi))
        if frames < 2 or rng.random() < 0.5:
            start = 0
            x = scene.x_at(float(rng.uniform(0.05, 0.95)) * w, distance, 0)
            heading = float(rng.choice([-0.5, 0.5]) * math.pi + rng.normal(0.0, 0.5))
            walking = bool(rng.random() < 0.85)
        else:   # enter from the left or right edge
            start = int(rng.integers(0, max(1, int(0.6 * frames))))
            left = bool(rng.random() < 0.5)
            margin = 0.3 * scene.focal * build.height / distance
            x = scene.x_at(-margin if left else w + margin, distance, start)
            heading = float((0.5 if left else -0.5) * math.pi + rng.normal(0.0, 0.3))
            walking = True
        walkers.append(Walker(build, look, x, distance, heading, speed=cruise if walking else 0.0, cruise=cruise,
                              walking=walking, start=start, distance_range=(near, far), seed=seed, phase=phase))
    return walkers


def _on_screen(extent: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = extent
    return x2 >= 0 and y2 >= 0 and x1 < size[0] and y1 < size[1]


def _label(view: PersonView, ids: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (17, 3) and head points (2, 3) with visibility from the frame edges and the id buffer."""
    h, w = ids.shape
    xy = view.xy[[*range(NUM_JOINTS), HEAD_BOTTOM, HEAD_TOP]]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    col = np.clip(np.round(xy[:, 0]), 0, w - 1).astype(np.int64)
    row = np.clip(np.round(xy[:, 1]), 0, h - 1).astype(np.int64)
    seen = ids[row, col] == label
    seen[list(FACE_POINTS)] &= face_visible(view)
    vis = np.where(inside, np.where(seen, 2.0, 1.0), 0.0)
    out = np.concatenate([xy, vis[:, None]], 1).astype(np.float32)
    out[~inside] = 0.0
    return out[:NUM_JOINTS], out[NUM_JOINTS:]


def render_frame(scene: Scene, walkers: Sequence[Walker], t: int) -> SynthFrame:
    """Draw the walkers (far to near) over the background of frame t and label them.

    Walker k gets track id k; walkers not yet started (`start` > t) or off-screen are left out.
    """
    w, h = scene.size
    image = scene.frame_background(t)
    ids = np.zeros((h, w), np.uint8)
    views: dict[int, PersonView] = {}
    for k, walker in enumerate(walkers):
        if walker.start <= t:
            view = view_person(scene, walker, t)
            if _on_screen(view.extent, scene.size):
                views[k] = view
    for k in sorted(views, key=lambda k: (-walkers[k].distance, k)):
        draw_person(image, ids, k + 1, views[k], walkers[k].appearance)
    if scene.blur[t, 0] > 0:
        image = motion_blur(image, float(scene.blur[t, 0]), float(scene.blur[t, 1]))
    counts = np.bincount(ids.ravel(), minlength=len(walkers) + 1)
    keypoints, head_points, tracks, head_boxes, boxes, areas = [], [], [], [], [], []
    for k in sorted(views):
        view = views[k]
        kp, head = _label(view, ids, k + 1)
        if not (kp[:, 2] > 0).any():
            continue
        cx, cy, ax, ay = view.head
        x1, y1, x2, y2 = view.extent
        x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, w - 1.0), min(y2, h - 1.0)
        keypoints.append(kp)
        head_points.append(head)
        tracks.append(k)
        head_boxes.append((cx - ax, cy - ay, 2 * ax, 2 * ay))
        boxes.append((x1, y1, x2 - x1, y2 - y1))
        areas.append(counts[k + 1])
    n = len(tracks)
    return SynthFrame(
        index=t, image=image,
        keypoints=np.array(keypoints, np.float32).reshape(n, NUM_JOINTS, 3),
        head_points=np.array(head_points, np.float32).reshape(n, 2, 3),
        track_ids=np.array(tracks, np.int64), head_boxes=np.array(head_boxes, np.float32).reshape(n, 4),
        boxes=np.array(boxes, np.float32).reshape(n, 4), areas=np.array(areas, np.float32))


def generate_video(seed: int, frames: int, people: int, size: tuple[int, int] = (640, 360), fps: float = 25.0,
                   camera_motion: bool = False, blur: bool = False, index: int = 0) -> Iterator[SynthFrame]:
    """Render video `index` of the dataset `seed` frame by frame (nothing is written to disk).

    size is (width, height) in pixels; people is the number of tracks (not all on screen at once: they enter
    and leave). `write_dataset(seed=s)` writes video i exactly as `generate_video(s, ..., index=i)` yields it.
    """
    check_options(frames, people, size, fps, seed)   # here, not in the generator: bad settings fail at the call
    return _frames(seed, frames, people, size, fps, camera_motion, blur, index)


def _frames(seed: int, frames: int, people: int, size: tuple[int, int], fps: float, camera_motion: bool,
            blur: bool, index: int) -> Iterator[SynthFrame]:
    rng = np.random.default_rng([seed, index])
    scene = sample_scene(rng, size, frames, fps, camera_motion, blur)
    walkers = sample_walkers(rng, scene, frames, people)
    for t in range(frames):
        for walker in walkers:
            if walker.start < t:
                walker.step(1.0 / fps)
        yield render_frame(scene, walkers, t)


# ---- writing datasets -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: FFmpeg reports failed encoder probes there, not through Python."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=None)
def video_codec() -> str:
    """The FourCC to write with: 'avc1' (H.264) where this OpenCV can write it and decord read it, else 'mp4v'."""
    import decord

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.mp4")
        with _quiet_stderr():
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"avc1"), 25.0, (64, 64))
            ok = writer.isOpened()
            if ok:
                for _ in range(2):
                    writer.write(np.zeros((64, 64, 3), np.uint8))
            writer.release()
            try:
                ok = ok and len(decord.VideoReader(path)) == 2
            except Exception:   # decord raises its own error types; any failure means "not usable"
                ok = False
    return "avc1" if ok else "mp4v"


class VideoSink:
    """Writes frames to `<path>` through a temporary file that replaces it only once the video is complete."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.size = size
        self.writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*video_codec()), fps, size)
        if not self.writer.isOpened():
            raise AetrackError(f"cannot write video {self.path} (OpenCV's video writer did not open)")

    def write(self, image: np.ndarray) -> None:
        self.writer.write(image)

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.writer.release()
        if exc_type is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: a reader sees the old file or the complete new one, never a partial one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, separators=(",", ":"))
    os.replace(tmp, path)


def _check_decodes(path: Path, frames: int, size: tuple[int, int]) -> None:
    """The product reads videos with decord: make sure it reads this one, with every frame."""
    import decord

    try:
        reader = decord.VideoReader(str(path))
        shape = reader[0].shape
        n = len(reader)
    except Exception as exc:   # decord's errors have no common base class
        raise AetrackError(f"wrote {path} but decord cannot read it: {exc}") from exc
    if n != frames or shape[:2] != (size[1], size[0]):
        raise AetrackError(f"wrote {path} but decord reads {n} frames of {shape[1]}x{shape[0]}, "
                           f"expected {frames} of {size[0]}x{size[1]}")


def _r(values: np.ndarray | Sequence[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def _keypoint_list(keypoints: np.ndarray) -> list[float]:
    """(17, 3) -> flat [x, y, v, ...]: 2-decimal coordinates, integer visibility, unlabelled joints 0, 0, 0."""
    out: list[float] = []
    for x, y, v in keypoints:
        out += [round(float(x), 2), round(float(y), 2), int(v)] if v > 0 else [0, 0, 0]
    return out


def image_id(video: int, frame: int) -> int:
    """PoseTrack's image id: '1', the video number in 6 digits, the frame in 4 (10034180000 = video 3418)."""
    return 10_000_000_000 + video * 10_000 + frame


def _coco_category() -> dict:
    return {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(JOINTS),
            "skeleton": [[a + 1, b + 1] for a, b in LIMBS]}


def video_names(name: str, videos: int) -> list[str]:
    """File stems: `name` for a single video, `name_0000`, `name_0001`, ... for several."""
    return [name] if videos == 1 else [f"{name}_{i:04d}" for i in range(videos)]


def write_dataset(out_dir: str | Path, seed: int, videos: int, frames: int, people: int,
                  size: tuple[int, int] = (640, 360), fps: float = 25.0, camera_motion: bool = False,
                  blur: bool = False, name: str = "synth", progress: bool = False) -> list[Path]:
    """Write `videos` synthetic videos with PoseTrack and COCO annotations under out_dir; returns the videos.

    Each video and annotation file appears only when complete, so an interrupted run keeps finished videos.
    """
    check_options(frames, people, size, fps, seed, videos)
    if not name or any(c in name for c in "/\\#") or name.startswith("."):
        raise AetrackError(f"name must be a plain file name without '/', '\\' or '#', got {name!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AetrackError(f"output {out} exists and is not a folder")
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(exist_ok=True)
    from tqdm import tqdm

    coco: dict = {"info": {"description": "aetrack synthetic people", "seed": seed, "fps": fps,
                           "camera_motion": camera_motion, "blur": blur},
                  "images": [], "annotations": [], "categories": [_coco_category()]}
    written = []
    with tqdm(total=videos * frames, unit="frame", disable=not progress) as bar:
        for v, stem in enumerate(video_names(name, videos)):
            bar.set_description(stem)
            path = out / "videos" / f"{stem}.mp4"
            track = {"images": [], "annotations": [], "categories": [posetrack_category()]}
            with VideoSink(path, fps, size) as sink:
                for frame in generate_video(seed, frames, people, size, fps, camera_motion, blur, index=v):
                    sink.write(frame.image)
                    _add_frame(track, coco, frame, v, f"videos/{stem}.mp4", stem, frames, size)
                    bar.update()
            _check_decodes(path, frames, size)
            _write_json(out / "annotations" / f"{stem}.json", track)
            written.append(path)
    _write_json(out / "coco.json", coco)
    return written


def _add_frame(track: dict, coco: dict, frame: SynthFrame, video: int, video_file: str, stem: str, frames: int,
               size: tuple[int, int]) -> None:
    """Append one frame's image and people to the PoseTrack (`track`) and COCO (`coco`) dictionaries."""
    iid = image_id(video, frame.index)
    file_name = video_frame_name(video_file, frame.index)
    track["images"].append({
        "file_name": file_name, "id": iid, "frame_id": iid, "vid_id": f"{video:06d}", "nframes": frames,
        "is_labeled": True, "ignore_regions_x": [], "ignore_regions_y": [], "width": size[0], "height": size[1]})
    coco["images"].append({"id": iid, "file_name": file_name, "width": size[0], "height": size[1],
                           "video": stem, "frame": frame.index})
    posetrack = coco_to_posetrack(frame.keypoints, frame.head_points[:, 0], frame.head_points[:, 1])
    for p, tid in enumerate(frame.track_ids.tolist()):
        box = _r(frame.boxes[p])
        track["annotations"].append({
            "bbox_head": _r(frame.head_boxes[p]), "keypoints": _keypoint_list(posetrack[p]), "track_id": tid,
            "image_id": iid, "bbox": box, "scores": [], "category_id": 1, "id": iid * 100 + tid,
            "iscrowd": False, "num_keypoints": int((posetrack[p, :, 2] > 0).sum())})
        coco["annotations"].append({
            "id": iid * 100 + tid, "image_id": iid, "category_id": 1, "keypoints": _keypoint_list(frame.keypoints[p]),
            "num_keypoints": int((frame.keypoints[p, :, 2] > 0).sum()), "bbox": box,
            "area": float(frame.areas[p]), "iscrowd": 0, "track_id": tid, "video": stem})


__all__ = ["SynthFrame", "generate_video", "render_frame", "sample_walkers", "write_dataset", "check_options",
           "image_id", "video_names", "video_codec", "VideoSink", "MAX_PEOPLE", "MAX_FRAMES", "MAX_VIDEOS"]
