"""The streaming loop: frames -> network -> decoder -> (refinement) -> tracker -> writers, a batch of frames at a time.

`PoseTracker` is the library API (frames in, tracked people out, bounded memory); `track_source` adds the
files a run writes, stopping cleanly on SIGINT/SIGTERM, resuming an interrupted run, and the per-stage timing
the CLI reports.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import cv2
import numpy as np
import torch

from aetrack.config import Config, TrackerConfig
from aetrack.errors import AetrackError
from aetrack.inference.predictor import Predictor
from aetrack.io.sources import Frame, FrameSource
from aetrack.poses import Poses
from aetrack.refine import Refiner
from aetrack.track import Tracker, Tracks

log = logging.getLogger(__name__)

STAGES = ("read", "network", "decode", "refine", "track", "write")
OPTIONAL_STAGES = ("refine",)  # reported only by runs that have them
# Frames of one network call hold at most this many pixels: 8 frames of 1080p, 1 of 4000x3000, so that
# the float copy made before resizing (12 bytes a pixel) stays near 200 MB.
MAX_BATCH_PIXELS = 8 * 1920 * 1080


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
        return {s: 1000 * self.seconds.get(s, 0.0) / max(frames, 1) for s in STAGES
                if s in self.seconds or s not in OPTIONAL_STAGES}


def as_bgr(image: np.ndarray) -> np.ndarray:
    """An image as (H, W, 3) uint8 BGR: grayscale (H, W) or (H, W, 1) and BGRA (H, W, 4) are converted."""
    if image.dtype == np.uint16:  # 16-bit PNGs and some cameras
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise AetrackError(f"a frame must be an 8-bit grayscale or colour image, got {image.dtype} {image.shape}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 3:
        return image
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise AetrackError(f"a frame must have 1, 3 or 4 channels, got {channels}")


class PoseTracker:
    """Frames in, tracked people out. Keeps only the tracker's state between calls; the optional `refiner` joins
    each person's crop with the box the tracker predicts for the track it overlaps."""

    def __init__(self, predictor: Predictor, tracker: TrackerConfig | None = None,
                 refiner: Refiner | None = None) -> None:
        self.predictor = predictor
        self.tracker = Tracker(tracker or predictor.config.tracker)
        self.refiner = refiner
        self.timer = StageTimer()

    @classmethod
    def from_checkpoint(cls, weights: str | Path, config: Config | None = None, device: str = "auto",
                        refiner: Refiner | None = None) -> "PoseTracker":
        """A tracker from a checkpoint; `config` (when given) supplies the inference and tracker settings."""
        predictor = Predictor.from_checkpoint(weights, device, config.inference if config else None)
        return cls(predictor, config.tracker if config else None, refiner)

    def process(self, frames: list[Frame]) -> list[FrameResult]:
        """Track a batch of consecutive frames of one source, in order; grayscale frames are made BGR."""
        if not frames:
            return []
        t = time.perf_counter()
        images = [as_bgr(f.image) for f in frames]
        people: list[Poses | None] = [None] * len(frames)
        for idx in _network_batches(images):
            maps = self.predictor.maps(torch.from_numpy(np.stack([images[i] for i in idx])))
            if maps.maps.heatmaps.is_cuda:
                torch.cuda.synchronize()
            t = self.timer.add("network", t)
            for i, p in zip(idx, self.predictor.decode(maps)):
                people[i] = p
            t = self.timer.add("decode", t)
        results = []
        for frame, image, poses in zip(frames, images, people):
            if self.refiner is not None:
                _, boxes = self.tracker.predicted_boxes(frame.index)
                poses = self.refiner(image, poses, boxes)
                t = self.timer.add("refine", t)
            tracks = self.tracker.update(poses, frame.index, frame.time)
            results.append(FrameResult(frame.index, frame.time, poses, tracks))
            t = self.timer.add("track", t)
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


def _network_batches(images: list[np.ndarray]) -> list[list[int]]:
    """Indices of `images` in groups of one size, each holding at most MAX_BATCH_PIXELS pixels (at least one)."""
    groups: dict[tuple[int, ...], list[list[int]]] = defaultdict(lambda: [[]])
    for i, image in enumerate(images):
        chunks = groups[image.shape]
        if chunks[-1] and (len(chunks[-1]) + 1) * image.shape[0] * image.shape[1] > MAX_BATCH_PIXELS:
            chunks.append([])
        chunks[-1].append(i)
    return [chunk for chunks in groups.values() for chunk in chunks]


# ---- stopping cleanly ----------------------------------------------------------------------------------------

class Stopped(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM arrived; `exit_code` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """While its `with` block runs (on the main thread), SIGINT and SIGTERM raise `Stopped`.

    Inside `hold()` the exception waits for the block's end, so that a frame's outputs are written whole;
    signals after the first are only noted, so that the cleanup that follows is not cut short.
    Elsewhere than on the main thread it does nothing (Python runs signal handlers only there).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._held = 0
        self._raised = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        if not self._held:
            self._raise()

    def _raise(self) -> None:
        if self.signum is not None and not self._raised:
            self._raised = True
            raise Stopped(self.signum)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """A block a signal does not cut: `Stopped` is raised when it ends instead."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held:
            self._raise()


# ---- resuming an interrupted run -----------------------------------------------------------------------------

class IdMap:
    """Track ids of a resumed run -> those the interrupted run gave the same people.

    The resumed tracker starts empty and replays the last frames the interrupted run finished (`learn`): the
    tracks it reports there are matched by keypoints to the recorded ones and take over their ids. Other tracks
    (new people, or people lost for longer than the replay reaches back) get the next ids after the
    interrupted run's largest, so ids never collide.
    """

    MAX_DISTANCE = 0.1  # mean joint distance, in person sizes, for a replayed track to be a recorded one

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.top = max((p["track_id"] for r in records for p in r["people"]), default=0)
        self.known: dict[int, int] = {}

    def learn(self, tracks: Tracks, record: dict[str, Any]) -> None:
        """Match the replayed `tracks` of a frame to the people the interrupted run recorded for it."""
        people = [p for p in record["people"] if p["track_id"] > 0]
        mine = [i for i in range(len(tracks)) if tracks.ids[i] > 0]
        if not people or not mine:
            return
        theirs = np.array([p["keypoints"] for p in people], np.float64).reshape(len(people), -1, 3)
        ours = tracks.keypoints[mine].astype(np.float64)
        cost = np.full((len(mine), len(people)), np.inf)
        for j, kp in enumerate(theirs):
            found = kp[:, 2] > 0
            if not found.any():
                continue
            size = max(np.sqrt(np.prod(np.ptp(kp[found, :2], axis=0))), 1.0)
            both = (ours[:, :, 2] > 0) & found
            dist = np.linalg.norm(ours[:, :, :2] - kp[None, :, :2], axis=2)
            mean = np.where(both.any(1), (dist * both).sum(1) / np.maximum(both.sum(1), 1), np.inf) / size
            cost[:, j] = np.where(mean <= self.MAX_DISTANCE, mean, np.inf)
        from aetrack.track.assignment import assign

        for r, c in assign(cost)[0]:
            new, old = int(tracks.ids[mine[r]]), int(people[c]["track_id"])
            self.known = {n: o for n, o in self.known.items() if o != old}  # one-to-one: the latest match wins
            self.known[new] = old

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """The ids to write for the tracker's `ids` (T,); -1 (tentative) stays."""
        for i in sorted(int(i) for i in ids if i > 0 and int(i) not in self.known):  # in the tracker's order
            self.top += 1
            self.known[i] = self.top
        return np.array([self.known[int(i)] if i > 0 else int(i) for i in ids], np.int64)


def replay_frames(config: TrackerConfig) -> int:
    """Frames a resumed run replays before going on: enough to confirm tracks and re-find lost ones."""
    return config.max_age + config.min_hits


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
    """What a run did: frames, people and tracks seen, wall time and milliseconds per frame per stage.

    `signal` is the signal that stopped it early (None when it was not stopped); `dropped` counts frames a
    realtime stream skipped; `resumed_after` is the last frame an interrupted run had finished, when resumed.
    """

    name: str
    frames: int
    people: int
    tracks: int
    seconds: float
    stage_ms: dict[str, float]
    outputs: list[Path]
    complete: bool = True
    signal: int | None = None
    dropped: int = 0
    resumed_after: int | None = None

    @property
    def exit_code(self) -> int:
        """0 for a finished run, else the shell's 128 + signal (130 for Ctrl-C, 143 for SIGTERM)."""
        return 0 if self.complete else 128 + (self.signal or signal.SIGINT)

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items())
        notes = []
        if self.resumed_after is not None:
            notes.append(f"resumed after frame {self.resumed_after}")
        if self.dropped:
            notes.append(f"{self.dropped} frames dropped to keep up")
        if not self.complete:
            how = signal.Signals(self.signal).name if self.signal else "interrupted"
            notes.append(f"stopped by {how}; results so far written")
        return (f"{self.name}: {self.frames} frames, {self.people} people, {self.tracks} tracks, "
                f"{fps:.1f} fps; ms/frame: {stages}" + "".join(f"; {n}" for n in notes))


def output_paths(out_dir: Path, name: str) -> dict[str, Path]:
    return {"posetrack": out_dir / f"{name}.posetrack.json", "jsonl": out_dir / f"{name}.jsonl",
            "video": out_dir / f"{name}.render.mp4"}


def output_name(spec: str | int | FrameSource) -> str:
    """The stem of a source's output files: the video's or folder's name, 'camera_0', or the URL's host/path."""
    from aetrack.io.sources_live import redact_url
    from aetrack.io.video import source_kind

    if isinstance(spec, FrameSource):
        text = spec.name if spec.is_live or "://" in spec.name else Path(spec.name).stem
    elif source_kind(spec) == "camera":
        text = f"camera {int(spec)}"
    elif source_kind(spec) == "url":
        text = redact_url(str(spec))
    else:
        text = Path(spec).resolve().stem
    text = text.split("://", 1)[-1]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "source"


def track_source(spec: str | int | FrameSource, out_dir: str | Path, pose_tracker: PoseTracker, *, batch: int = 8,
                 render: bool = False, start: str | None = None, end: str | None = None, realtime: bool = False,
                 max_frames: int | None = None, progress: bool = True, show: bool = False,
                 video_id: int = 1, resume: bool = False) -> RunSummary:
    """Track one video file, image folder, camera or stream; writes JSONL, PoseTrack JSON and optionally MP4.

    spec: what `open_source` opens (with `start`, `end`, `realtime`), or a source already open, which is
    read as it is and closed at the end.
    SIGINT and SIGTERM stop it after the frame being written, leaving both files valid and equal in frames
    (the summary says which signal). resume: go on from the last frame of an earlier run's JSONL (see
    `IdMap` for how its track ids carry over); `max_frames` then counts the earlier run's frames too.
    """
    from aetrack.io.video import open_source, source_kind
    from aetrack.io.writers import JsonlWriter, PoseTrackWriter, VideoSink
    from aetrack.viz.draw import draw_people

    out_dir = Path(out_dir)
    name = output_name(spec)
    paths = output_paths(out_dir, name)
    started = time.perf_counter()
    previous, keep = _previous_run(paths["jsonl"]) if resume else ([], None)
    if previous and (isinstance(spec, FrameSource) or source_kind(spec) in ("camera", "url")):
        raise AetrackError(f"{name}: only video files and image folders named by their path can be resumed")
    if previous and render:
        raise AetrackError("--resume cannot continue a rendered video; resume without --render")
    last = previous[-1]["frame"] if previous else -1
    replay = previous[-replay_frames(pose_tracker.tracker.config):] if previous else []
    recorded = {r["frame"]: r for r in replay}
    relabel = IdMap(previous) if previous else None
    todo = None if max_frames is None else max(0, max_frames - len(previous))
    frames = people = 0
    ids: set[int] = set()
    complete, stopped_by, dropped = False, None, 0
    with StopSignals() as stop, (spec if isinstance(spec, FrameSource) else open_source(
            spec, start=replay[0]["frame"] if replay else start, end=end, realtime=realtime)) as source:
        finished = todo == 0 or (source.frame_count is not None and replay
                                 and last >= replay[0]["frame"] + source.frame_count - 1)
        bar = None if finished else _progress(source, name, progress, None if todo is None else todo + len(replay))
        sink = VideoSink(paths["video"], source.fps, source.size) if render else None
        images: dict[int, np.ndarray] = {}

        def frames_in() -> Iterator[Frame]:
            new = 0
            for frame in source:
                if frame.index > last:
                    if todo is not None and new >= todo:
                        return
                    new += 1
                frame = Frame(frame.index, frame.time, as_bgr(frame.image))
                if (sink is not None or show) and frame.index > last:
                    images[frame.index] = frame.image
                yield frame

        jsonl = JsonlWriter(paths["jsonl"], keep)
        pt = PoseTrackWriter(paths["posetrack"], name, video_id)
        try:
            try:
                for record in previous:
                    pt.add_record(record)
                for result in ([] if finished else pose_tracker.run(frames_in(), batch)):
                    if bar is not None:
                        bar.update(1)
                    if result.index <= last:  # replayed to rebuild the tracker's state
                        if relabel is not None and result.index in recorded:
                            relabel.learn(result.tracks, recorded[result.index])
                        continue
                    t = time.perf_counter()
                    if relabel is not None:
                        result.tracks = replace(result.tracks, ids=relabel(result.tracks.ids))
                    tr = result.tracks
                    with stop.hold():  # the JSONL line and the PoseTrack frame go together or not at all
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
                        bar.set_postfix(people=len(tr), tracks=len(ids), refresh=False)
            finally:
                with stop.hold():  # the last PoseTrack write is not cut short either
                    try:
                        jsonl.close()
                    finally:
                        pt.close()
            complete = True
        except KeyboardInterrupt as exc:
            stopped_by = getattr(exc, "signum", signal.SIGINT)
        finally:
            dropped = source.dropped
            if sink is not None:
                sink.close()
            if bar is not None:
                bar.close()
    outputs = [paths["jsonl"], paths["posetrack"]] + ([paths["video"]] if render else [])
    return RunSummary(name, frames, people, len(ids), time.perf_counter() - started,
                      pose_tracker.timer.per_frame_ms(frames), outputs, complete, stopped_by, dropped,
                      last if previous else None)


def _previous_run(jsonl: Path) -> tuple[list[dict[str, Any]], int | None]:
    """The records an earlier run left in `jsonl` and their length in bytes; none when there is no file."""
    from aetrack.io.writers import read_jsonl

    if not jsonl.is_file():
        log.warning("%s: no earlier results to resume from; starting at the beginning", jsonl.name)
        return [], None
    return read_jsonl(jsonl)


def _progress(source, name: str, enabled: bool, max_frames: int | None):
    if not enabled:
        return None
    from tqdm import tqdm

    total = source.frame_count
    if max_frames is not None:
        total = min(total, max_frames) if total is not None else max_frames
    return tqdm(total=total, desc=name, unit="frame", dynamic_ncols=True, leave=True)


def _show(image: np.ndarray, name: str) -> None:
    cv2.imshow(f"aetrack: {name}", image)
    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
        raise KeyboardInterrupt
