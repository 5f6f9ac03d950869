"""`Track`: what the tracker remembers about one person, and the life cycle tentative -> tracked -> lost -> removed."""
from __future__ import annotations

import enum

import numpy as np

from aetrack.track.config import TrackerConfig
from aetrack.track.kalman import KeypointFilter


class TrackState(enum.Enum):
    """Where a track is in its life cycle."""

    TENTATIVE = "tentative"  # new, not yet matched in `min_hits` frames; removed at its first miss
    TRACKED = "tracked"      # confirmed and matched in the latest frame
    LOST = "lost"            # confirmed, unmatched for 1..max_age frames; may be re-identified
    REMOVED = "removed"      # forgotten at the end of the frame


class Track:
    """One person's filter, running embedding and counters; ids are given by the tracker at confirmation."""

    def __init__(self, keypoints: np.ndarray, embedding: np.ndarray, frame_index: int, detection_index: int,
                 config: TrackerConfig, confirmed: bool = False) -> None:
        """keypoints: (17, 3) pixels, found joints score > 0; embedding: (E,) temporal tag of the person;
        `confirmed`: tracked from the start (the people of a video's first frame), else after min_hits."""
        self.config = config
        self.id = -1
        self.filter = KeypointFilter(keypoints, config)
        self.embedding = embedding.astype(np.float32).copy()
        self.tags_seen = 1  # temporal tags averaged into `embedding`
        self.state = TrackState.TRACKED if confirmed or config.min_hits <= 1 else TrackState.TENTATIVE
        self.hits = 1
        self.first_frame = frame_index
        self.last_frame = frame_index          # last frame with a match
        self.detection_index = detection_index  # the matched person's index in `last_frame`'s Poses

    def predict(self, steps: int) -> None:
        """Move the filter `steps` frames ahead."""
        self.filter.predict(steps)

    def update(self, keypoints: np.ndarray, embedding: np.ndarray | None, frame_index: int,
               detection_index: int) -> None:
        """Take a matched person: (17, 3) keypoints, and (E,) embedding or None to leave the embedding as is."""
        self.filter.update(keypoints)
        if embedding is not None and embedding.size:
            # The first tags are averaged plainly (momentum n / (n + 1)) until the momentum weighs less: a running
            # mean seeded with one frame's tag keeps that tag's noise for tens of frames, long enough for the
            # re-identification gate to miss a young track's person.
            m = min(self.config.embedding_momentum, self.tags_seen / (self.tags_seen + 1.0))
            self.embedding = (m * self.embedding + (1.0 - m) * embedding).astype(np.float32)
            self.tags_seen += 1
        self.hits += 1
        self.last_frame = frame_index
        self.detection_index = detection_index
        if self.state is TrackState.LOST:
            self.state = TrackState.TRACKED
        elif self.state is TrackState.TENTATIVE and self.hits >= self.config.min_hits:
            self.state = TrackState.TRACKED

    def miss(self, frame_index: int) -> None:
        """No person matched in `frame_index`: tentative tracks end, confirmed ones are lost, then too old ones end."""
        if self.state is TrackState.TENTATIVE:
            self.state = TrackState.REMOVED
        elif frame_index - self.last_frame > self.config.max_age:
            self.state = TrackState.REMOVED
        else:
            self.state = TrackState.LOST

    @property
    def confirmed(self) -> bool:
        return self.state in (TrackState.TRACKED, TrackState.LOST)
