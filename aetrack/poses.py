"""`Poses`: the people found in one image, the record passed from decoder to tracker and writers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aetrack.skeleton import NUM_JOINTS


@dataclass
class Poses:
    """People of one image.

    keypoints: (P, 17, 3) float32, x, y, score per joint; score 0 marks a joint not found. Pixels of the image
        named by the producer (heatmap pixels straight out of the decoder; original image pixels after inference).
    scores: (P,) float32 person score (mean joint score, as the reference).
    tags: (P, D) float32 mean spatial tag of each person's found joints.
    joint_tags: (P, 17, D) float32 tag of every joint (0 where not found).
    temporal: (P, E) float32 mean temporal (identity) tag, E = 0 when the model has none.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    tags: np.ndarray
    joint_tags: np.ndarray
    temporal: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __post_init__(self) -> None:
        p = len(self.keypoints)
        if self.temporal.shape[0] != p:
            self.temporal = np.zeros((p, 0), np.float32)

    def __len__(self) -> int:
        return len(self.keypoints)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> "Poses":
        return Poses(self.keypoints[index], self.scores[index], self.tags[index], self.joint_tags[index],
                     self.temporal[index])

    @staticmethod
    def empty(tag_dim: int = 1, temporal_dim: int = 0) -> "Poses":
        return Poses(np.zeros((0, NUM_JOINTS, 3), np.float32), np.zeros(0, np.float32),
                     np.zeros((0, tag_dim), np.float32), np.zeros((0, NUM_JOINTS, tag_dim), np.float32),
                     np.zeros((0, temporal_dim), np.float32))
