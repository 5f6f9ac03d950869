"""Reading frames: `open_source` opens a video file, image folder, camera or stream as a `FrameSource`.

    with open_source("match.mp4", start="2.5s", end=300) as source:
        for frame in source:          # Frame(index, time, image (H, W, 3) uint8 BGR)
            ...

Start and end: an int or '120' is a frame index, a float or '2.5s' is seconds; the end is excluded.
"""
from __future__ import annotations

import os
from pathlib import Path

from aetrack.errors import AetrackError
from aetrack.io.sources import DEFAULT_FPS, Frame, FrameSource, Position, parse_position
from aetrack.io.sources_file import VideoFile
from aetrack.io.sources_folder import IMAGE_SUFFIXES, ImageFolder
from aetrack.io.sources_live import LiveSource, Reconnect
from aetrack.io.sources_thread import ThreadedReader

__all__ = ["DEFAULT_FPS", "IMAGE_SUFFIXES", "Frame", "FrameSource", "ImageFolder", "LiveSource", "Position",
           "Reconnect", "ThreadedReader", "VideoFile", "open_source", "parse_position", "source_kind"]


def open_source(spec: str | int | os.PathLike, *, start: Position = None, end: Position = None,
                realtime: bool = False, batch: int = 8, decoder: str = "auto", fps: float | None = None,
                timeout: float = 5.0, reconnect: Reconnect = Reconnect(), queue_size: int = 8) -> FrameSource:
    """Open `spec`: a video file, an image folder, a camera index (0, '1') or a URL (rtsp://, http://, ...).

    batch: frames decord decodes at once, and decoder: 'auto' (decord, OpenCV where it fails) or 'opencv',
    for video files. fps: frame rate of an image folder (default 30).
    timeout: seconds a camera or stream may take to open or to give a frame. reconnect: what a live source
    does when it stops. queue_size: frames read ahead in a thread (0: read in the caller's thread).
    realtime: for live sources, keep only the newest frame, dropping older ones rather than falling behind.
    Raises AetrackError when `spec` cannot be opened or read.
    """
    kind = source_kind(spec)
    source: FrameSource
    if kind == "camera":
        source = LiveSource(int(spec), start=start, end=end, timeout=timeout, reconnect=reconnect)
    elif kind == "url":
        source = LiveSource(str(spec), start=start, end=end, timeout=timeout, reconnect=reconnect)
    elif kind == "folder":
        source = ImageFolder(spec, start=start, end=end, fps=fps)
    else:
        source = VideoFile(spec, start=start, end=end, batch=batch, decoder=decoder)
    if realtime and source.is_live:
        return ThreadedReader(source, 1, drop_old=True)
    return ThreadedReader(source, queue_size) if queue_size > 0 else source


def source_kind(spec: str | int | os.PathLike) -> str:
    """'camera', 'url', 'folder' or 'file': what `spec` names. A file named like a number needs './'."""
    if isinstance(spec, bool):
        raise AetrackError(f"not a video, folder, camera or URL: {spec!r}")
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return "camera"
    text = os.fspath(spec)
    if "://" in text:
        return "url"
    if not text.strip():
        raise AetrackError("no video, folder, camera or URL given")
    return "folder" if Path(text).is_dir() else "file"
