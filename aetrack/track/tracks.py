"""`Tracks`: the tracked people of one frame, the record passed from tracker to writers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aetrack.skeleton import NUM_JOINTS


@dataclass
class Tracks:
    """Tracked people of one frame, as parallel arrays; pixels are those of the `Poses` given to the tracker.

    ids: (T,) int64 track id, from 1 per tracker; -1 for a tentative track (reported only when asked for).
    keypoints: (T, 17, 3) float32 x, y, score: the person's, or the filter's x, y when smoothing is on.
    scores: (T,) float32 person score.
    boxes: (T, 4) float32 x1, y1, x2, y2 around the keypoints with score > 0.
    embeddings: (T, E) float32 running temporal embedding of the track (E = 0 without temporal tags).
    detection_index: (T,) int64 index of the person in the frame's `Poses`.
    age: (T,) int64 frames since the track began; hits: (T,) int64 frames in which it was matched.
    confirmed: (T,) bool, False for tentative tracks.
    frame_index, time: the frame these tracks belong to, as given to `Tracker.update`.
    """

    ids: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    embeddings: np.ndarray
    detection_index: np.ndarray
    age: np.ndarray
    hits: np.ndarray
    confirmed: np.ndarray
    frame_index: int = 0
    time: float | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> "Tracks":
        return Tracks(self.ids[index], self.keypoints[index], self.scores[index], self.boxes[index],
                      self.embeddings[index], self.detection_index[index], self.age[index], self.hits[index],
                      self.confirmed[index], self.frame_index, self.time)

    @staticmethod
    def empty(embedding_dim: int = 0, frame_index: int = 0, time: float | None = None) -> "Tracks":
        return Tracks(np.zeros(0, np.int64), np.zeros((0, NUM_JOINTS, 3), np.float32), np.zeros(0, np.float32),
                      np.zeros((0, 4), np.float32), np.zeros((0, embedding_dim), np.float32),
                      np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool),
                      frame_index, time)
