"""Image folders: the images of a folder, in natural order (frame2 before frame10), as frames."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from aetrack.errors import AetrackError
from aetrack.io.sources import DEFAULT_FPS, Frame, FrameSource, Position, frame_range, quiet_opencv

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class ImageFolder(FrameSource):
    """The images of a folder as frames, `fps` apart; unreadable images, or of another size, are skipped."""

    def __init__(self, folder: str | Path, *, start: Position = None, end: Position = None,
                 fps: float | None = None) -> None:
        self.folder = Path(folder)
        files = image_files(self.folder)
        fps = fps or DEFAULT_FPS
        self._first, stop = frame_range(start, end, fps=fps, count=len(files), name=self.folder.name)
        self._files = files[self._first:stop]
        size = _first_size(self._files)
        if size is None:
            raise AetrackError(f"none of the images in {self.folder} can be read")
        super().__init__(self.folder.resolve().name, fps=fps, size=size, frame_count=len(self._files), is_live=False)

    def _frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self._files, start=self._first):
            image = read_image(path)
            if image is None:
                log.warning("skipping %s: it cannot be read as an image", path)
            elif (image.shape[1], image.shape[0]) != self.size:
                log.warning("skipping %s: it is %dx%d, the first image %dx%d", path, image.shape[1],
                            image.shape[0], *self.size)
            else:
                yield Frame(index, index / self.fps, image)


def natural_key(name: str) -> list[str | int]:
    """Sort key that orders the numbers inside names by value: 'frame2' before 'frame10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def image_files(folder: Path) -> list[Path]:
    """The image files of `folder` in natural order; AetrackError when it holds none."""
    try:
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    except OSError as exc:
        raise AetrackError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    if not files:
        raise AetrackError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: Path) -> np.ndarray | None:
    """The image at `path` as (H, W, 3) uint8 BGR, or None when it cannot be read or decoded."""
    try:
        data = np.fromfile(path, np.uint8)  # with imdecode, unlike imread, any path works on every platform
    except OSError:
        return None
    if not data.size:
        return None
    with quiet_opencv():
        try:
            return cv2.imdecode(data, cv2.IMREAD_COLOR)
        except cv2.error:
            return None


def _first_size(files: list[Path]) -> tuple[int, int] | None:
    """(width, height) of the first readable image among `files`, or None when none is."""
    for path in files:
        image = read_image(path)
        if image is not None:
            return image.shape[1], image.shape[0]
    return None
