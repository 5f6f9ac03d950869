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
