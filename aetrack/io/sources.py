"""What every frame source shares: the `Frame` record, the `FrameSource` base, start/end positions."""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from aetrack.errors import AetrackError

# FFmpeg's own log lines ("moov atom not found", "Connection refused") would follow our one-line error;
# OpenCV reads this once, when it first loads FFmpeg. A value the user set is kept.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402  (after the environment variable above)

DEFAULT_FPS = 30.0  # for sources that do not say (image folders, some cameras and streams)

Position = int | float | str | None


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame: `image` (H, W, 3) uint8 BGR, `index` its number in the source, `time` in seconds."""

    index: int
    time: float
    image: np.ndarray


class FrameSource:
    """An open video, image folder, camera or stream: iterate it for `Frame`s, close it (or use `with`) after.

    `size` is (width, height) in pixels; `frame_count` is how many frames it will give (None when unknown,
    as for live sources); `dropped` counts frames skipped to keep up with a live source.
    """

    def __init__(self, name: str, *, fps: float, size: tuple[int, int], frame_count: int | None,
                 is_live: bool) -> None:
        self.name = name
        self.fps = fps
        self.size = size
        self.frame_count = frame_count
        self.is_live = is_live
        self.dropped = 0
        self._frames_iter: Iterator[Frame] | None = None
        self._closed = False
        self._interrupted = threading.Event()

    def _frames(self) -> Iterator[Frame]:
        """The frames, in order; a generator whose `finally` releases what it opened."""
        raise NotImplementedError

    def _release(self) -> None:
        """Release what the constructor opened and `_frames` has not taken over."""

    def __iter__(self) -> FrameSource:
        return self

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        if self._frames_iter is None:
            self._frames_iter = self._frames()
        return next(self._frames_iter)

    def interrupt(self) -> None:
        """Ask a wait in progress (a reconnection delay) to give up; safe from any thread. Call `close` after."""
        self._interrupted.set()

    def close(self) -> None:
        """Stop reading and release the file, camera or connection; closing twice is harmless."""
        self._interrupted.set()
        self._closed = True
        if self._frames_iter is not None:
            self._frames_iter.close()  # type: ignore[attr-defined]  (always a generator)
        self._release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        w, h = self.size
        return f"{type(self).__name__}({self.name!r}, {w}x{h}, {self.fps:g} fps, frames={self.frame_count})"


def parse_position(value: Position, what: str) -> int | float | None:
    """A start or end position: an int or '120' is a frame index, a float or '2.5s' is seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            value = float(text[:-1]) if text.endswith("s") else int(text)
        except ValueError:
            raise AetrackError(f"{what} {value!r} is neither a frame number (120) nor a time in seconds (2.5s)"
                               ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise AetrackError(f"{what} must be a frame number or a time in seconds, at least 0; got {value!r}")
    return value


def frame_range(start: Position, end: Position, *, fps: float, count: int | None, name: str,
                times: np.ndarray | None = None) -> tuple[int, int | None]:
    """Frame indices [first, stop) between start and end (end excluded); stop is None without an end.

    Seconds map to the first frame at or after them, by the frames' `times` (seconds) when known, else by `fps`.
    `count`, the source's frame count where known, only serves to reject a start past the end.
    """
    first = _frame_index(parse_position(start, "start"), fps, times) or 0
    stop = _frame_index(parse_position(end, "end"), fps, times)
    if count is not None and first >= count:
        raise AetrackError(f"start {start} is past the end of {name} ({count} frames)")
    if stop is not None and stop <= first:
        raise AetrackError(f"end {end} is not after start {start or 0} in {name}")
    return first, stop


def _frame_index(position: int | float | None, fps: float, times: np.ndarray | None) -> int | None:
    """The index of the first frame at or after `position` (an index, or seconds)."""
    if position is None or isinstance(position, int):
        return position
    eps = 1e-6  # timestamps are float32 in decord; 0.1 s must still find the frame stamped 0.1
    if times is not None:
        return int(np.searchsorted(times, position - eps))
    return math.ceil(position * fps - eps)


def reached(frame: Frame, position: int | float) -> bool:
    """Whether `frame` is at or past `position` (an index, or seconds); for sources that cannot seek."""
    return frame.index >= position if isinstance(position, int) else frame.time >= position - 1e-6


def sane_fps(value: float) -> float | None:
    """A frame rate a container or driver reported, or None where it is missing or absurd (0, NaN, 90000)."""
    return float(value) if 0.5 <= value <= 1000 else None


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log lines (failed opens print several) while the block runs; we raise our own error."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def read_capture(capture: cv2.VideoCapture) -> np.ndarray | None:
    """The next image from an OpenCV capture, or None at its end or on a decoding error."""
    try:
        ok, image = capture.read()
    except cv2.error:  # some backends raise instead of returning False on damaged data
        return None
    return image if ok and image is not None and image.size else None


def capture_time(capture: cv2.VideoCapture, index: int, fps: float) -> float:
    """Seconds of the frame just read: the container's timestamp where it has one, else index / fps."""
    msec = capture.get(cv2.CAP_PROP_POS_MSEC)
    return msec / 1000.0 if msec > 0 else index / fps
