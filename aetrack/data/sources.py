"""Clip sources for training: synthetic videos rendered on the fly, COCO keypoints, PoseTrack 2018 videos."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from aetrack.data.dataset import ClipSample
from aetrack.errors import AetrackError
from aetrack.skeleton import NUM_JOINTS


class CocoImages:
    """COCO person keypoints: each image is a clip of `clip_length` copies (still images have no motion).

    People without keypoints and crowd regions go into the ignore mask, so the network is not taught that
    they are background.
    """

    def __init__(self, annotations: str | Path, images: str | Path, clip_length: int = 1) -> None:
        from pycocotools.coco import COCO

        path = Path(annotations)
        if not path.is_file():
            raise AetrackError(f"COCO annotations {path}: file not found")
        self.images_dir = Path(images)
        if not self.images_dir.is_dir():
            raise AetrackError(f"COCO images folder {self.images_dir}: not found")
        self.coco = _quiet(lambda: COCO(str(path)))
        person = self.coco.getCatIds(catNms=["person"]) or [1]
        self.ids = sorted(i for i in self.coco.getImgIds(catIds=person)
                          if any(a.get("num_keypoints", 0) > 0 for a in self._anns(i)))
        if not self.ids:
            raise AetrackError(f"COCO annotations {path}: no image with keypoint annotations")
        self.clip_length = clip_length

    def _anns(self, image_id: int) -> list[dict]:
        return self.coco.loadAnns(self.coco.getAnnIds(imgIds=image_id, iscrowd=None))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> ClipSample:
        info = self.coco.loadImgs(self.ids[index])[0]
        image = cv2.imread(str(self.images_dir / info["file_name"]), cv2.IMREAD_COLOR)
        if image is None:
            raise AetrackError(f"COCO image {self.images_dir / info['file_name']}: missing or unreadable")
        anns = self._anns(info["id"])
        people = [a for a in anns if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0)]
        keypoints = np.array([a["keypoints"] for a in people], np.float32).reshape(len(people), NUM_JOINTS, 3)
        ignore = np.zeros(image.shape[:2], np.uint8)
        for a in anns:
            if a.get("iscrowd", 0) or a.get("num_keypoints", 0) == 0:
                ignore |= self.coco.annToMask(a).astype(np.uint8)
        t = self.clip_length
        return ClipSample(np.repeat(image[None], t, 0), np.repeat(keypoints[None], t, 0),
                          np.repeat(ignore[None], t, 0))


class SynthClips:
    """Endless synthetic clips: clip i is rendered from its own seed, so data never repeats within an epoch."""

    def __init__(self, clip_length: int, length: int, people: tuple[int, int], size: tuple[int, int],
                 seed: int = 0) -> None:
        self.clip_length, self.length, self.people, self.size, self.seed = clip_length, length, people, size, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> ClipSample:
        from aetrack.data.synth import generate_video

        rng = np.random.default_rng([self.seed, index, 7])
        people = int(rng.integers(self.people[0], self.people[1] + 1))
        # skip a random number of frames so people are caught mid-walk, not only at their entrances
        skip = int(rng.integers(0, 20))
        frames = list(generate_video(seed=int(rng.integers(2**31)), frames=skip + self.clip_length,
                                     people=people, size=self.size))[skip:]
        slots = sorted({int(t) for f in frames for t in f.track_ids})
        keypoints = np.zeros((len(frames), len(slots), NUM_JOINTS, 3), np.float32)
        for i, f in enumerate(frames):
            for kp, tid in zip(f.keypoints, f.track_ids):
                keypoints[i, slots.index(int(tid))] = kp
        return ClipSample(np.stack([f.image for f in frames]), keypoints, None)


def _quiet(fn):
    """Run a pycocotools call without its prints on stdout."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


__all__ = ["CocoImages", "SynthClips"]


class PoseTrackClips:
    """PoseTrack 2018 videos (one JSON per video): clips of `clip_length` consecutive labelled frames.

    Joints map to COCO slots (PoseTrack has no eyes and leaves its ear slots empty, so those heatmaps get no
    loss); ignore regions go into the ignore mask. Frames are image files under `images`, or video frames
    named '<video>#<frame>' as `aetrack synth` writes them.
    """

    def __init__(self, annotations: str | Path, images: str | Path, clip_length: int = 2) -> None:
        folder = Path(annotations)
        files = sorted(folder.glob("*.json")) if folder.is_dir() else [folder]
        if not files or not files[0].is_file():
            raise AetrackError(f"PoseTrack annotations {folder}: no JSON files found")
        self.root = Path(images) if images else folder.parent
        self.clip_length = clip_length
        self.videos: list[tuple[list[dict], dict[int, list[dict]]]] = []
        self.clips: list[tuple[int, int]] = []
        for path in files:
            frames, people = _read_posetrack(path)
            v = len(self.videos)
            self.videos.append((frames, people))
            self.clips.extend((v, i) for i in range(len(frames) - clip_length + 1))
        if not self.clips:
            raise AetrackError(f"PoseTrack annotations {folder}: no run of {clip_length} labelled frames")
        labelled = np.zeros(NUM_JOINTS, bool)
        labelled[[0, *range(5, NUM_JOINTS)]] = True  # nose and the body; no eyes, no ears
        self.labelled = labelled

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> ClipSample:
        from aetrack.io.posetrack_format import posetrack_to_coco

        v, first = self.clips[index]
        frames, people = self.videos[v]
        clip = frames[first:first + self.clip_length]
        tracks = sorted({a["track_id"] for f in clip for a in people.get(f["id"], [])})
        images = np.stack([self._image(f) for f in clip])
        keypoints = np.zeros((len(clip), len(tracks), NUM_JOINTS, 3), np.float32)
        ignore = np.zeros(images.shape[:3], np.uint8)
        for i, f in enumerate(clip):
            for a in people.get(f["id"], []):
                kp = np.asarray(a["keypoints"], np.float32).reshape(NUM_JOINTS, 3)
                keypoints[i, tracks.index(a["track_id"])] = posetrack_to_coco(kp)
            for xs, ys in zip(f.get("ignore_regions_x") or [], f.get("ignore_regions_y") or []):
                if len(xs) >= 3:
                    poly = np.round(np.stack([xs, ys], 1)).astype(np.int32)
                    cv2.fillPoly(ignore[i], [poly], 1)
        keypoints[..., 2] = (keypoints[..., 2] > 0) * 2.0
        return ClipSample(images, keypoints, ignore, self.labelled)

    def _image(self, frame: dict) -> np.ndarray:
        name = str(frame["file_name"])
        if "#" in name:
            video, _, number = name.rpartition("#")
            capture = cv2.VideoCapture(str(self.root / video))
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(number))
            ok, image = capture.read()
            capture.release()
        else:
            image = cv2.imread(str(self.root / name), cv2.IMREAD_COLOR)
            ok = image is not None
        if not ok:
            raise AetrackError(f"PoseTrack frame {self.root / name}: missing or unreadable")
        return image


def _read_posetrack(path: Path) -> tuple[list[dict], dict[int, list[dict]]]:
    """Labelled frames (in file order) of a PoseTrack 2018 file, and its people by image id."""
    import json

    try:
        data = json.loads(path.read_text())
        frames = [im for im in data["images"] if im.get("is_labeled", True)]
        people: dict[int, list[dict]] = {}
        for a in data.get("annotations", []):
            if "keypoints" in a and "track_id" in a:
                people.setdefault(a["image_id"], []).append(a)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AetrackError(f"PoseTrack file {path}: not a PoseTrack 2018 file ({exc})") from None
    return frames, people
