"""Result writers: JSONL (one line per frame, flushed as frames finish), PoseTrack 2018 JSON (rewritten
atomically every few seconds and at the end, so an interrupted run keeps what it finished) and rendered MP4.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aetrack.errors import AetrackError
from aetrack.io.json_atomic import write_json_atomic
from aetrack.io.posetrack_format import coco_to_posetrack, posetrack_category
from aetrack.skeleton import JOINT_INDEX

# PoseTrack's head_bottom (the neck, under the chin) and head_top, which COCO lacks, as fixed combinations of
# COCO joints: head_bottom at 0.55 of the way from the nose to the shoulders' midpoint; head_top beyond the ears,
# away from the shoulders: nose + 1.45 (ears' midpoint - nose) - 0.56 (shoulders' midpoint - nose). The
# weights are least-squares fits on synthetic people of the training seeds; they hold whichever way the head
# turns (a fixed step along the nose-to-shoulders line, the earlier rule, missed head_top in 3 of 4 people).
HEAD_BOTTOM_RATIO = 0.55
HEAD_TOP_EARS = 1.45
HEAD_TOP_SHOULDERS = -0.56


def head_points(keypoints: np.ndarray, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Estimated head_bottom and head_top (P, 3) x, y, score from COCO keypoints (P, 17, 3); 0 where unknown."""
    nose = keypoints[:, JOINT_INDEX["nose"]]
    shoulders = keypoints[:, [JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]]]
    ears = keypoints[:, [JOINT_INDEX["left_ear"], JOINT_INDEX["right_ear"]]]
    to_shoulders = shoulders[:, :, :2].mean(1) - nose[:, :2]
    to_ears = ears[:, :, :2].mean(1) - nose[:, :2]
    bottom_score = np.minimum(nose[:, 2], shoulders[:, :, 2].min(1))
    top_score = np.minimum(bottom_score, ears[:, :, 2].max(1))

    def point(offset: np.ndarray, score: np.ndarray) -> np.ndarray:
        out = np.zeros((len(keypoints), 3), np.float32)
        out[:, :2] = nose[:, :2] + offset
        out[:, 2] = score
        out[score <= min_score] = 0
        return out
    return (point(HEAD_BOTTOM_RATIO * to_shoulders, bottom_score),
            point(HEAD_TOP_EARS * to_ears + HEAD_TOP_SHOULDERS * to_shoulders, top_score))


def _box(kp: np.ndarray, min_score: float) -> list[float]:
    found = kp[:, 2] > min_score
    if not found.any():
        return [0.0, 0.0, 0.0, 0.0]
    (x0, y0), (x1, y1) = kp[found, :2].min(0), kp[found, :2].max(0)
    return [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2), round(float(y1 - y0), 2)]


def output_folder(path: str | Path) -> Path:
    """`path` as a folder results can be written to, created if missing; AetrackError naming what is wrong."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AetrackError(f"output folder {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AetrackError(f"cannot create output folder {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise AetrackError(f"output folder {path} is not writable")
    return path


class JsonlWriter:
    """One JSON object per frame, appended and flushed as each frame finishes (a crash loses nothing written).

    keep: continue an existing file after its first `keep` bytes (the complete lines `read_jsonl` found)
    instead of starting it anew.
    """

    def __init__(self, path: str | Path, keep: int | None = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if keep is not None:
                os.truncate(self.path, keep)  # drops a line cut short by a hard kill
            self._file = self.path.open("w" if keep is None else "a", encoding="utf-8")
        except OSError as exc:
            raise AetrackError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as exc:  # disk full, quota, a removed USB drive
            raise AetrackError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise AetrackError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        finally:
            self._file.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """The frame records of a JSONL file `JsonlWriter` wrote, and the bytes they span.

    Text after the last newline (a line cut short by a hard kill) is left out; any other damage is an
    AetrackError, as the file is then not one this writer left.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AetrackError(f"cannot read {path}: {exc.strerror or exc}") from None
    records: list[dict[str, Any]] = []
    complete = data.split(b"\n")[:-1]  # each line is written with its newline in one call
    for number, line in enumerate(complete, 1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not (isinstance(record, dict) and isinstance(record.get("frame"), int)
                and isinstance(record.get("people"), list)):
            raise AetrackError(f"{path}: line {number} is not a frame record of aetrack's JSONL")
        if records and record["frame"] <= records[-1]["frame"]:
            raise AetrackError(f"{path}: line {number} repeats or goes back to frame {record['frame']}")
        records.append(record)
    return records, sum(len(line) + 1 for line in complete)


class PoseTrackWriter:
    """A video's tracks in the PoseTrack 2018 layout, with COCO joints mapped to PoseTrack's 17 slots.

    The whole file is rewritten atomically at most every `every_s` seconds and on close, so it is always a
    complete, valid file holding every frame finished so far.
    """

    def __init__(self, path: str | Path, video_name: str, video_id: int = 1, min_score: float = 0.0,
                 every_s: float = 5.0) -> None:
        self.path, self.video_name, self.video_id = Path(path), video_name, video_id
        self.min_score, self.every_s = min_score, every_s
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self._last_write = time.monotonic()

    def add(self, frame_index: int, ids: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> None:
        """Record one frame: track ids (T,), COCO keypoints (T, 17, 3) in image pixels, person scores (T,)."""
        image_id = int(f"1{self.video_id:06d}{frame_index:06d}")
        self.images.append({"file_name": f"{self.video_name}#{frame_index:06d}", "id": image_id,
                            "frame_id": image_id, "vid_id": f"{self.video_id:06d}", "is_labeled": True,
                            "ignore_regions_x": [], "ignore_regions_y": []})
        bottom, top = head_points(keypoints)
        slots = coco_to_posetrack(keypoints, bottom, top) if len(keypoints) else np.zeros((0, 17, 3), np.float32)
        for tid, kp, score, person in zip(ids, slots, scores, keypoints):
            found = kp[:, 2] > self.min_score
            coords = np.where(found[:, None], kp[:, :2], 0.0)
            flat = np.concatenate([coords, found[:, None].astype(np.float32)], 1)  # 3rd value: 1 = predicted
            self.annotations.append({
                "image_id": image_id, "track_id": int(tid), "category_id": 1,
                "keypoints": [round(float(v), 2) for v in flat.ravel()],
                "scores": [round(float(s), 4) if f else 0.0 for s, f in zip(kp[:, 2], found)],
                "score": round(float(score), 4), "bbox": _box(person, self.min_score),
            })
        if time.monotonic() - self._last_write > self.every_s:
            self.flush()

    def add_record(self, record: dict[str, Any]) -> None:
        """Record one frame from its JSONL record (`pipeline.frame_record`): how a resumed run restores them."""
        people = record["people"]
        keypoints = np.array([p["keypoints"] for p in people], np.float32).reshape(len(people), 17, 3)
        self.add(record["frame"], np.array([p["track_id"] for p in people], np.int64), keypoints,
                 np.array([p["score"] for p in people], np.float32))

    def flush(self) -> None:
        nframes = len(self.images)
        for img in self.images:
            img["nframes"] = nframes
        write_json_atomic(self.path, {"images": self.images, "annotations": self.annotations,
                                      "categories": [posetrack_category()]})
        self._last_write = time.monotonic()

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> "PoseTrackWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoSink:
    """An MP4 writer that appears under its final name only when closed (a partial file stays '.part.mp4')."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".part.mp4", dir=self.path.parent)
        except OSError as exc:
            raise AetrackError(f"cannot write video {self.path}: {exc.strerror or exc}") from None
        os.close(fd)
        self.tmp = Path(tmp)
        self.size = size
        self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), max(fps, 1.0), size)
        if not self._writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise AetrackError(f"cannot write video {self.path}: OpenCV could not open an MP4 writer")

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.chmod(self.tmp, 0o644)  # mkstemp makes it private; results are ordinary files
            os.replace(self.tmp, self.path)

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
