"""Image lists for `predict`: image files and folders, or every image of a COCO file (video frames included,
named '<video>#<frame>' as `aetrack synth` writes them), each with its COCO image id."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import numpy as np

from aetrack.errors import AetrackError

def list_images(inputs: list[str]) -> list[Path]:
    """Image files named directly or found (in natural order, as the frame reader lists them) in folders."""
    from aetrack.io.sources_folder import image_files

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(image_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise AetrackError(f"{path}: no such image or folder")
    return files


def coco_image_ids(coco_path: str | Path) -> tuple[dict[str, int], list[dict]]:
    """File name -> image id of a COCO file (by full name and by base name), and its image entries."""
    path = Path(coco_path)
    try:
        data = json.loads(path.read_text())
        images = data["images"]
        ids = {str(im["file_name"]): int(im["id"]) for im in images}
    except FileNotFoundError:
        raise AetrackError(f"{path}: file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AetrackError(f"{path}: not a COCO file with images (file_name, id): {exc}") from None
    ids.update({Path(name).name: i for name, i in list(ids.items()) if "#" not in name})
    return ids, images


def read_image(path: Path) -> np.ndarray:
    """The image at `path` (H, W, 3) uint8 BGR, read as image folders are; unreadable is a user error."""
    from aetrack.io.sources_folder import read_image as read_or_none

    image = read_or_none(path)
    if image is None:
        raise AetrackError(f"{path}: not a readable image")
    return image


def coco_frames(coco_path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """(image id, BGR image) for every image of a COCO file, reading video frames with the video readers."""
    from aetrack.io.video import open_source

    root = Path(coco_path).parent
    _, images = coco_image_ids(coco_path)
    stills: list[tuple[int, Path]] = []
    videos: dict[str, dict[int, int]] = defaultdict(dict)
    for im in images:
        name = str(im["file_name"])
        if "#" in name:
            video, _, frame = name.rpartition("#")
            videos[video][int(frame)] = int(im["id"])
        else:
            stills.append((int(im["id"]), root / name))
    for image_id, path in stills:
        yield image_id, read_image(path)
    for video, wanted in videos.items():
        last = max(wanted)
        with open_source(root / video, end=last + 1) as source:
            for frame in source:
                if frame.index in wanted:
                    yield wanted.pop(frame.index), frame.image
        if wanted:
            raise AetrackError(f"{root / video}: frames {sorted(wanted)[:5]} listed in {coco_path} could not be read")
