"""Video files: decord decodes batches of frames; OpenCV reads what decord cannot open or decode."""
from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np

from aetrack.errors import AetrackError
from aetrack.io.sources import (DEFAULT_FPS, Frame, FrameSource, Position, capture_time, frame_range,
                                quiet_opencv, read_capture, sane_fps)

log = logging.getLogger(__name__)

BATCH_BYTES = 128 * 2**20  # decoded bytes one decord batch may hold: 20 frames of 1080p, 5 of 4K
PROBE_TIMEOUT = 60.0  # seconds for decord to index a file and decode its first frames in the probe
PROBE_FRAMES = 4  # enough to meet decoders that fail after the first frame (decord 0.6 on VP9)

# decord can abort the whole process (std::bad_alloc on a damaged AVI header) or hang on damaged input,
# so a child process tries it first; only a file it survives is opened with decord in this process.
PROBE_CODE = """
import sys, decord
decord.logging.set_level(decord.logging.QUIET)
reader = decord.VideoReader(sys.argv[1])
count = min(len(reader), int(sys.argv[2]))
assert count > 0, "no frames"
reader.get_batch(list(range(count))).asnumpy()
reader.get_frame_timestamp(len(reader) - 1)
"""

_FILE_BACKEND = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY


class VideoFile(FrameSource):
    """A video file, read by decord, or by OpenCV where decord fails (or with decoder='opencv').

    The `decoder` attribute names the one reading now: it turns from 'decord' to 'opencv' on a failure.
    """

    def __init__(self, path: str | Path, *, start: Position = None, end: Position = None, batch: int = 8,
                 decoder: str = "auto") -> None:
        if decoder not in ("auto", "opencv"):
            raise ValueError(f"decoder must be 'auto' or 'opencv', not {decoder!r}")
        self.path = Path(path)
        _check_file(self.path)
        fps, announced, size, rotated = _opencv_probe(self.path)
        count = announced
        # decord ignores rotation metadata (phone videos), OpenCV applies it: keep what players show.
        use_decord = decoder == "auto" and not rotated
        self._decord = _open_decord(self.path) if use_decord else None
        self._times: np.ndarray | None = None  # seconds of every frame, from decord's index
        if self._decord is not None:
            fps = sane_fps(self._decord.get_avg_fps()) or fps
            count = len(self._decord)
            stamps = self._decord.get_frame_timestamp(np.arange(count))[:, 0].astype(np.float64)
            self._times = stamps - stamps[0]  # OpenCV counts from the stream's start too
        self.decoder = "opencv" if self._decord is None else "decord"
        self._first, self._stop = frame_range(start, end, fps=fps, count=count, name=self.path.name,
                                              times=self._times)
        self._announced = announced
        w, h = size
        self._batch = max(1, min(batch, BATCH_BYTES // (w * h * 3)))
        # OpenCV reads on past a count it only estimated; decord's count, from its index, is exact
        known = [n for n in (self._stop, count) if n is not None]
        frames = min(known) - self._first if known else None
        super().__init__(self.path.name, fps=fps, size=size, frame_count=frames, is_live=False)

    def _frames(self) -> Iterator[Frame]:
        stop = self._first
        if self._decord is not None:
            stop = yield from self._decord_frames()
        if self._decord is None:  # never opened, or failed part way
            stop = yield from self._opencv_frames(stop)
        self._warn_if_short(stop)

    def _release(self) -> None:
        self._decord = None  # decord has no close; dropping the reader frees it

    def _decord_frames(self) -> Generator[Frame, None, int]:
        """Frames from decord, a batch at a time; returns the index after the last (or where decord failed)."""
        assert self._decord is not None and self._times is not None
        stop = len(self._times) if self._stop is None else min(self._stop, len(self._times))
        for lo in range(self._first, stop, self._batch):
            indices = list(range(lo, min(lo + self._batch, stop)))
            try:
                batch = self._decord.get_batch(indices).asnumpy()
            except Exception:  # DECORDError or RuntimeError from decord's core: a damaged or odd stream
                log.info("%s: decord stopped at frame %d; reading on with OpenCV", self.name, lo)
                self._decord, self.decoder = None, "opencv"
                return lo
            for index, rgb in zip(indices, batch):
                yield Frame(index, float(self._times[index]), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        return stop

    def _opencv_frames(self, first: int) -> Generator[Frame, None, int]:
        """Frames from OpenCV from index `first` until the end or an undecodable frame; returns the next index."""
        index = first
        with _capture(self.path) as capture:
            if first:
                capture.set(cv2.CAP_PROP_POS_FRAMES, first)
            while self._stop is None or index < self._stop:
                image = read_capture(capture)
                if image is None:
                    break
                known = self._times is not None and index < len(self._times)
                time = float(self._times[index]) if known else capture_time(capture, index, self.fps)
                yield Frame(index, time, image)
                index += 1
        return index

    def _warn_if_short(self, stop: int) -> None:
        """Warn once when reading ended before the frame count the file announced (truncated or damaged)."""
        known = [n for n in (self._stop, self._announced) if n is not None]
        if not known:
            return
        expected = min(known)
        if stop < expected - (1 + expected // 100):  # the announced count may be estimated from the duration
            log.warning("%s: stopped at frame %d of %d; the rest cannot be decoded (truncated or damaged file?)",
                        self.name, stop, expected)


def _check_file(path: Path) -> None:
    """Raise AetrackError unless `path` is a readable, non-empty regular file."""
    if not path.exists():
        raise AetrackError(f"no such file or folder: {path}")
    if not path.is_file():
        raise AetrackError(f"{path} is not a regular file")  # a FIFO or device would block the readers
    try:
        with path.open("rb") as f:
            empty = not f.read(1)
    except OSError as exc:
        raise AetrackError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if empty:
        raise AetrackError(f"{path} is empty (0 bytes)")


@contextmanager
def _capture(path: Path) -> Iterator[cv2.VideoCapture]:
    """An OpenCV capture of a video file, released at exit; AetrackError when OpenCV cannot open it."""
    with quiet_opencv():
        capture = cv2.VideoCapture(str(path), _FILE_BACKEND)
    try:
        if not capture.isOpened():
            raise AetrackError(f"cannot read {path}: {_unreadable_reason(path)}")
        yield capture
    finally:
        capture.release()


def _unreadable_reason(path: Path) -> str:
    """Why FFmpeg cannot open `path`, as precisely as its bytes tell: an MP4 cut short is a common case."""
    head = b""
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
            if head[4:8] == b"ftyp" and _mp4_cut_short(f):
                return "an MP4 file without its complete index (moov box): the recording or the copy was cut short"
    except OSError:
        pass
    container = _container(head)
    if container is None:
        return "not a video, or a format FFmpeg cannot read"
    codec = _avi_codec(head) if container == "AVI" else None
    named = f"codec '{codec}'" if codec else "codec"
    return f"an {container} file whose video FFmpeg cannot decode (unknown {named}, or damaged data)"


def _container(head: bytes) -> str | None:
    """The container format the first bytes of a file announce, for messages; None when unknown."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head[4:8] == b"ftyp":
        return "MP4/MOV"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "MKV/WebM"
    return None


def _avi_codec(head: bytes) -> str | None:
    """The four-character code of an AVI's first video stream (its 'strh' chunk), when readable."""
    at = head.find(b"strh")  # then the chunk's size, its stream type and the codec
    code = head[at + 12:at + 16] if at >= 0 and head[at + 8:at + 12] == b"vids" else b""
    return code.decode("ascii") if len(code) == 4 and all(32 <= c < 127 for c in code) else None


def _mp4_cut_short(f: BinaryIO) -> bool:
    """Whether an MP4 or MOV file lacks its moov box, or has a top-level box that runs past its end."""
    end = os.fstat(f.fileno()).st_size
    pos = 0
    while pos + 8 <= end:
        f.seek(pos)
        header = f.read(16)
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1 and len(header) == 16:  # a 64-bit size follows the type
            size = struct.unpack(">Q", header[8:])[0]
        elif size == 0:  # the box runs to the end of the file
            size = end - pos
        if size < 8 or pos + size > end:
            return True
        if kind == b"moov":
            return False
        pos += size
    return True


def _opencv_probe(path: Path) -> tuple[float, int | None, tuple[int, int], bool]:
    """fps, frame count (None if unknown), size (w, h) and whether it is rotated, from OpenCV's first frame."""
    with _capture(path) as capture:
        with quiet_opencv():
            image = read_capture(capture)
        if image is None:
            raise AetrackError(f"cannot read {path}: no frame can be decoded (damaged file, or unknown codec)")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = sane_fps(capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        rotated = int(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 360 != 0
    h, w = image.shape[:2]
    return fps, (count if count > 0 else None), (w, h), rotated


def _open_decord(path: Path) -> Any | None:
    """decord's reader for `path`, or None where decord cannot (or cannot safely) decode it."""
    if not _decord_survives(path):
        log.info("%s: decord cannot decode it; reading with OpenCV", path.name)
        return None
    try:
        import decord

        decord.logging.set_level(decord.logging.QUIET)
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    except Exception:  # decord's core raises RuntimeError or DECORDError; the probe makes this rare
        return None
    return reader if len(reader) else None


def _decord_survives(path: Path) -> bool:
    """Whether decord, in a child process, opens `path` and decodes its first frames within PROBE_TIMEOUT."""
    try:
        done = subprocess.run([sys.executable, "-c", PROBE_CODE, str(path), str(PROBE_FRAMES)],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
