"""The streaming loop: frames -> network -> decoder -> tracker -> writers, one batch of frames at a time.

`PoseTracker` is the library API (frames in, tracked people out, bounded memory); `track_video` adds the
files a run writes and the per-stage timing the CLI reports.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from aetrack.config import Config, TrackerConfig
from aetrack.inference.predictor import Predictor
from aetrack.io.sources import Frame
from aetrack.poses import Poses
from aetrack.track import Tracker, Tracks

STAGES = ("read", "network", "decode", "track", "write")


@dataclass
class FrameResult:
    """One frame's outcome: the decoded people (image pixels) and the tracks matched to them."""

    index: int
    time: float
    poses: Poses
    tracks: Tracks


@dataclass
class StageTimer:
    """Seconds spent per pipeline stage, for the end-of-run summary and `aetrack bench`."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - start
        return now

    def per_frame_ms(self, frames: int) -> dict[str, float]:
        return {s: 1000 * self.seconds.get(s, 0.0) / max(frames, 1) for s in STAGES}


class PoseTracker:
    """Frames in, tracked people out. Keeps only the tracker's state between calls."""

    def __init__(self, predictor: Predictor, tracker: TrackerConfig | None = None) -> None:
        self.predictor = predictor
        self.tracker = Tracker(tracker or predictor.config.tracker)
        self.timer = StageTimer()

    @classmethod
    def from_checkpoint(cls, weights: str | Path, config: Config | None = None, device: str = "auto") -> "PoseTracker":
        """A tracker from a checkpoint; `config` (when given) supplies the inference and tracker settings."""
        predictor = Predictor.from_checkpoint(weights, device, config.inference if config else None)
        return cls(predictor, config.tracker if config else None)

    def process(self, frames: list[Frame]) -> list[FrameResult]:
        """Track a batch of consecutive frames of one source (same size), in order."""
        if not frames:
            return []
        t = time.perf_counter()
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, f in enumerate(frames):
            groups[f.image.shape].append(i)
        people: list[Poses | None] = [None] * len(frames)
        for idx in groups.values():
            batch = torch.from_numpy(np.stack([frames[i].image for i in idx]))
            maps = self.predictor.maps(batch)
            if maps.maps.heatmaps.is_cuda:
                torch.cuda.synchronize()
            t = self.timer.add("network", t)
            for i, p in zip(idx, self.predictor.decode(maps)):
                people[i] = p
            t = self.timer.add("decode", t)
        results = []
        for frame, poses in zip(frames, people):
            tracks = self.tracker.update(poses, frame.index, frame.time)
            results.append(FrameResult(frame.index, frame.time, poses, tracks))
        self.timer.add("track", t)
        return results

    def run(self, frames: Iterable[Frame], batch: int = 8) -> Iterator[FrameResult]:
        """Track a stream of frames, `batch` frames through the network at a time."""
        pending: list[Frame] = []
        it = iter(frames)
        while True:
            t = time.perf_counter()
            frame = next(it, None)
            self.timer.add("read", t)
            if frame is not None:
                pending.append(frame)
            if pending and (frame is None or len(pending) >= batch):
                yield from self.process(pending)
                pending = []
            if frame is None:
                return


def frame_record(result: FrameResult, min_score: float = 0.0) -> dict:
    """The JSONL line of a frame: its tracks with keypoints (x, y, score in image pixels) and boxes."""
    tr = result.tracks
    people = []
    for i in range(len(tr)):
        kp = tr.keypoints[i]
        people.append({"track_id": int(tr.ids[i]), "score": round(float(tr.scores[i]), 4),
                       "box": [round(float(v), 1) for v in tr.boxes[i]],
                       "keypoints": [[round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                                     for x, y, s in kp]})
    return {"frame": int(result.index), "time": round(float(result.time), 4), "people": people,
            "detections": len(result.poses)}


@dataclass
class RunSummary:
    """What a run did: frames, people and tracks seen, wall time and milliseconds per frame per stage."""

    name: str
    frames: int
    people: int
    tracks: int
    seconds: float
    stage_ms: dict[str, float]
    outputs: list[Path]
    complete: bool = True

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items())
        status = "" if self.complete else " (interrupted; results so far written)"
        return (f"{self.name}: {self.frames} frames, {self.people} people, {self.tracks} tracks, "
                f"{fps:.1f} fps; ms/frame: {stages}{status}")


def output_paths(out_dir: Path, name: str) -> dict[str, Path]:
    return {"posetrack": out_dir / f"{name}.posetrack.json", "jsonl": out_dir / f"{name}.jsonl",
            "video": out_dir / f"{name}.render.mp4"}


def track_source(spec: str | int, out_dir: str | Path, pose_tracker: PoseTracker, *, batch: int = 8,
                 render: bool = False, start: str | None = None, end: str | None = None, realtime: bool = False,
                 max_frames: int | None = None, progress: bool = True, show: bool = False,
                 video_id: int = 1) -> RunSummary:
    """Track one video file, image folder, camera or stream; writes JSONL, PoseTrack JSON and optionally MP4."""
    from aetrack.io.video import open_source
    from aetrack.io.writers import JsonlWriter, PoseTrackWriter, VideoSink
    from aetrack.viz.draw import draw_people

    out_dir = Path(out_dir)
    started = time.perf_counter()
    with open_source(spec, start=start, end=end, realtime=realtime) as source:
        name = _safe_name(source.name)
        paths = output_paths(out_dir, name)
        bar = _progress(source, name, progress, max_frames)
        frames = people = 0
        ids: set[int] = set()
        complete = False
        sink = VideoSink(paths["video"], source.fps, source.size) if render else None
        images: dict[int, np.ndarray] = {}
        try:
            with JsonlWriter(paths["jsonl"]) as jsonl, PoseTrackWriter(paths["posetrack"], name, video_id) as pt:
                def frames_in() -> Iterator[Frame]:
                    for n, frame in enumerate(source):
                        if max_frames is not None and n >= max_frames:
                            return
                        if sink is not None or show:
                            images[frame.index] = frame.image
                        yield frame
                for result in pose_tracker.run(frames_in(), batch):
                    t = time.perf_counter()
                    tr = result.tracks
                    jsonl.write(frame_record(result))
                    pt.add(result.index, tr.ids, tr.keypoints, tr.scores)
                    if sink is not None or show:
                        drawn = draw_people(images.pop(result.index), tr.keypoints, tr.ids, tr.scores)
                        if sink is not None:
                            sink.write(drawn)
                        if show:
                            _show(drawn, name)
                    frames += 1
                    people += len(result.poses)
                    ids.update(int(i) for i in tr.ids if i > 0)
                    pose_tracker.timer.add("write", t)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(people=len(tr), tracks=len(ids), refresh=False)
            complete = True
        except KeyboardInterrupt:
            complete = False
        finally:
            if sink is not None:
                sink.close()
            if bar is not None:
                bar.close()
    outputs = [paths["jsonl"], paths["posetrack"]] + ([paths["video"]] if render else [])
    return RunSummary(name, frames, people, len(ids), time.perf_counter() - started,
                      pose_tracker.timer.per_frame_ms(frames), outputs, complete)


def _safe_name(name: str) -> str:
    stem = Path(str(name)).stem if "://" not in str(name) else str(name).split("://", 1)[1]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "source"


def _progress(source, name: str, enabled: bool, max_frames: int | None):
    if not enabled:
        return None
    from tqdm import tqdm

    total = source.frame_count
    if max_frames is not None:
        total = min(total, max_frames) if total is not None else max_frames
    return tqdm(total=total, desc=name, unit="frame", dynamic_ncols=True, leave=True)


def _show(image: np.ndarray, name: str) -> None:
    import cv2

    cv2.imshow(f"aetrack: {name}", image)
    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
        raise KeyboardInterrupt
