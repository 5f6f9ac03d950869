"""PoseTrack 2018 keypoint slots and conversion from and to COCO-17, for every PoseTrack file we read or write.

PoseTrack 2018 stores 17 keypoints per person, but its slots are not COCO's: slot 1 is `head_bottom` (the
neck, under the chin) and slot 2 `head_top`, which COCO lacks; slots 3 and 4 (ears) exist in the category
but are never labelled, and the eyes are not annotated at all. Slots 5-16 (shoulders to ankles) are COCO
joints 5-16 in the same order. An unlabelled keypoint is (0, 0, 0).

Frames of a video file are named `<video path>#<frame, 6 digits>` in the `file_name` of our PoseTrack and
COCO files (PoseTrack itself names extracted JPEGs); `video_frame_name` and `split_video_frame_name` build and
read that name.
"""
from __future__ import annotations

import numpy as np

from aetrack.errors import AetrackError
from aetrack.skeleton import JOINTS, NUM_JOINTS

POSETRACK_KEYPOINTS: tuple[str, ...] = ("nose", "head_bottom", "head_top", "left_ear", "right_ear", *JOINTS[5:])
NOSE, HEAD_BOTTOM, HEAD_TOP = 0, 1, 2

# The skeleton as PoseTrack 2018 files list it (1-based slots).
POSETRACK_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9), (8, 10),
    (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)

# POSETRACK_FROM_COCO[s]: the COCO joint that fills PoseTrack slot s, -1 where COCO has none (head_bottom,
# head_top) or PoseTrack leaves the slot empty (its unused ears).
POSETRACK_FROM_COCO: np.ndarray = np.array([0, -1, -1, -1, -1, *range(5, NUM_JOINTS)], np.int64)
# COCO_FROM_POSETRACK[j]: the PoseTrack slot that fills COCO joint j, -1 for the eyes (never annotated);
# the ear slots are copied in case a file fills them.
COCO_FROM_POSETRACK: np.ndarray = np.array([0, -1, -1, 3, 4, *range(5, NUM_JOINTS)], np.int64)


def posetrack_category() -> dict:
    """The `categories` entry of a PoseTrack 2018 file (person, its keypoint names and skeleton)."""
    return {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS),
            "skeleton": [list(pair) for pair in POSETRACK_SKELETON]}


def _remap(keypoints: np.ndarray, source: np.ndarray) -> np.ndarray:
    kp = np.asarray(keypoints, np.float32)
    if kp.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"keypoints must have shape (..., 17, 3), got {kp.shape}")
    out = np.zeros_like(kp)
    have = source >= 0
    out[..., have, :] = kp[..., source[have], :]
    return out


def coco_to_posetrack(keypoints: np.ndarray, head_bottom: np.ndarray | None = None,
                      head_top: np.ndarray | None = None) -> np.ndarray:
    """COCO-17 keypoints (..., 17, 3) -> PoseTrack 2018 slots (..., 17, 3); eyes and ears are dropped.

    head_bottom, head_top: (..., 3) x, y, visibility for the two head slots COCO cannot fill; left (0, 0, 0)
    when not given.
    """
    out = _remap(keypoints, POSETRACK_FROM_COCO)
    if head_bottom is not None:
        out[..., HEAD_BOTTOM, :] = head_bottom
    if head_top is not None:
        out[..., HEAD_TOP, :] = head_top
    return out


def posetrack_to_coco(keypoints: np.ndarray) -> np.ndarray:
    """PoseTrack 2018 slots (..., 17, 3) -> COCO-17 (..., 17, 3); eyes are (0, 0, 0), head_bottom/top dropped."""
    return _remap(keypoints, COCO_FROM_POSETRACK)


def video_frame_name(video: str, frame: int) -> str:
    """The `file_name` of frame `frame` (0-based) of a video file: 'videos/a.mp4#000012'."""
    return f"{video}#{frame:06d}"


def split_video_frame_name(name: str) -> tuple[str, int]:
    """'videos/a.mp4#000012' -> ('videos/a.mp4', 12)."""
    video, sep, frame = name.rpartition("#")
    if not sep or not frame.isdigit():
        raise AetrackError(f"file name {name!r} does not name a video frame (expected '<video>#<frame>')")
    return video, int(frame)


__all__ = ["POSETRACK_KEYPOINTS", "POSETRACK_SKELETON", "POSETRACK_FROM_COCO", "COCO_FROM_POSETRACK", "NOSE",
           "HEAD_BOTTOM", "HEAD_TOP", "posetrack_category", "coco_to_posetrack", "posetrack_to_coco",
           "video_frame_name", "split_video_frame_name"]
