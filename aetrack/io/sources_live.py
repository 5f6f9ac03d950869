"""Cameras and network streams, through OpenCV: bounded waits, and reconnection when a stream stops."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from aetrack.errors import AetrackError
from aetrack.io.sources import (DEFAULT_FPS, Frame, FrameSource, Position, capture_time, parse_position,
                                quiet_opencv, reached, read_capture, sane_fps)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Reconnect:
    """How a live source that stops is reopened: `attempts` tries, the first after `delay` seconds, each
    following wait `backoff` times longer, up to `max_delay`. attempts=0 ends the source at the first stop."""

    attempts: int = 5
    delay: float = 0.5
    backoff: float = 2.0
    max_delay: float = 8.0

    def delays(self) -> Iterator[float]:
        """The waits, in seconds, before each attempt."""
        delay = self.delay
        for _ in range(self.attempts):
            yield min(delay, self.max_delay)
            delay *= self.backoff


class LiveSource(FrameSource):
    """A camera (an index) or a stream URL; `time` of a live frame is seconds since the first one arrived.

    A URL that turns out to be a remote file (its frame count is known) is read to its end, not reconnected.
    """

    def __init__(self, target: int | str, *, start: Position = None, end: Position = None, timeout: float = 5.0,
                 reconnect: Reconnect = Reconnect()) -> None:
        self._target, self._timeout, self._reconnect = target, timeout, reconnect
        self._start, self._end = parse_position(start, "start"), parse_position(end, "end")
        name = f"camera {target}" if isinstance(target, int) else redact_url(target)
        opened = _open(target, timeout)
        if opened is None:
            raise AetrackError(_open_error(target, name, timeout))
        self._capture, self._first_image = opened
        self._opened_at = time.monotonic()
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) if isinstance(target, str) else 0
        fps = sane_fps(self._capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        h, w = self._first_image.shape[:2]
        super().__init__(name, fps=fps, size=(w, h), frame_count=count if count > 0 else None,
                         is_live=count <= 0)

    def _frames(self) -> Iterator[Frame]:
        for frame in self._read():
            if self._end is not None and reached(frame, self._end):
                return
            if self._start is None or reached(frame, self._start):
                yield frame

    def _release(self) -> None:
        self._capture.release()

    def _read(self) -> Iterator[Frame]:
        """Every frame the source gives, numbered from 0 across reconnections."""
        image: np.ndarray | None = self._first_image
        self._first_image = None
        index = 0
        while image is not None:
            yield Frame(index, self._time(index), self._fit(image))
            index += 1
            image = read_capture(self._capture)
            if image is None and self.is_live:
                image = self._reopen()

    def _time(self, index: int) -> float:
        """Seconds of frame `index`: arrival time for live sources (stream timestamps restart on reconnection)."""
        if self.is_live:
            return time.monotonic() - self._opened_at if index else 0.0
        return capture_time(self._capture, index, self.fps)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """The image at the source's size: a stream may come back from a reconnection at another resolution."""
        if (image.shape[1], image.shape[0]) == self.size:
            return image
        return cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)

    def _reopen(self) -> np.ndarray | None:
        """Reopen the stopped source per `reconnect`; its first image, or None when every attempt failed."""
        self._capture.release()
        if not self._reconnect.attempts:
            return None
        log.warning("%s stopped; reconnecting", self.name)
        for attempt, delay in enumerate(self._reconnect.delays(), 1):
            if self._interrupted.wait(delay):
                return None
            opened = _open(self._target, self._timeout)
            if opened is not None:
                self._capture, image = opened
                log.info("%s: reconnected at attempt %d", self.name, attempt)
                return image
        log.warning("%s ended: %d reconnection attempts failed", self.name, self._reconnect.attempts)
        return None


def redact_url(url: str) -> str:
    """`url` without its password, for messages and output names."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _open_error(target: int | str, name: str, timeout: float) -> str:
    """The message for a camera or stream that cannot be opened."""
    if isinstance(target, int):
        return f"camera {target} cannot be opened: there is no such camera, or another program is using it"
    return f"cannot open stream {name}: unreachable, refused, or no video within {timeout:g} s"


def _open(target: int | str, timeout: float) -> tuple[cv2.VideoCapture, np.ndarray] | None:
    """An opened capture and its first image, or None; bounded by a thread, as a driver or server may hang."""
    # OpenCV's own timeouts cover open and first read of a stream; the thread also covers camera drivers.
    return call_with_timeout(lambda: _open_capture(target, timeout), 2 * timeout + 1,
                             discard=lambda opened: opened and opened[0].release())


def _open_capture(target: int | str, timeout: float) -> tuple[cv2.VideoCapture, np.ndarray] | None:
    """Open a camera index or a URL with OpenCV and read its first image; None when either fails."""
    ms = int(timeout * 1000)
    with quiet_opencv():
        try:
            if isinstance(target, int):  # camera backends may refuse the timeout parameters
                capture = cv2.VideoCapture(target, cv2.CAP_ANY)
            else:
                capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                                   cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        except cv2.error:
            return None
        image = read_capture(capture) if capture.isOpened() else None
    if image is None:
        capture.release()
        return None
    return capture, image


def call_with_timeout(fn: Callable[[], T], seconds: float, discard: Callable[[T], object]) -> T | None:
    """fn()'s result, or None when it takes over `seconds`; a late result is then handed to `discard`."""
    box: dict[str, object] = {}
    lock = threading.Lock()

    def work() -> None:
        value = fn()
        with lock:
            if "late" in box:
                discard(value)
            else:
                box["value"] = value

    # a daemon thread: one stuck in a driver must not keep the program from exiting
    thread = threading.Thread(target=work, daemon=True, name="aetrack-open")
    thread.start()
    thread.join(seconds)
    with lock:
        if "value" in box:
            return box["value"]  # type: ignore[return-value]
        box["late"] = True
    return None
