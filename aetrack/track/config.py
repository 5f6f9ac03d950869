"""`TrackerConfig`: the settings of the tracker (to become the ``tracker`` section of `aetrack.config.Config`)."""
from __future__ import annotations

from dataclasses import dataclass

from aetrack.errors import AetrackError


@dataclass(frozen=True)
class TrackerConfig:
    """How people are linked across frames: which people count, cost and gates, track life cycle, motion noise.

    Distances in poses are relative to the person's size (square root of the keypoint box area, pixels), so one
    config serves any image resolution; embedding distances are Euclidean in temporal-tag units.
    """

    # Which people and joints take part.
    min_joint_score: float = 0.1     # joints scoring at or below this count as not found
    high_score: float = 0.3          # people scoring at least this take part in every association round
    low_score: float = 0.1           # people in [low_score, high_score) only extend tracked tracks; = high_score: off
    new_track_score: float = 0.4     # least person score that starts a track (below high_score: high_score)

    # Association cost = pose_weight * (1 - OKS) + embedding_weight * distance / max_embedding_distance.
    pose_weight: float = 1.0
    embedding_weight: float = 1.0    # 0: ignore temporal tags (no embedding term, no embedding gate)
    min_oks: float = 0.2             # gate for tracked and tentative tracks (and for lost ones without embeddings)
    min_oks_reid: float = 0.01       # looser gate for lost tracks re-identified by embedding: their prediction drifted
    max_embedding_distance: float = 1.0  # gate; the spatial tags' grouping threshold is the same scale

    # Track life cycle, in frames.
    min_hits: int = 3                # matched frames before a tentative track is confirmed and gets an id
    max_age: int = 30                # frames a lost track is kept for re-identification
    report_tentative: bool = False   # also report tentative tracks (id -1, confirmed False)

    # Constant-velocity Kalman filter; standard deviations as fractions of the person's size, per frame.
    process_noise_joint: float = 0.03     # a joint's own motion around the body (limbs swing)
    process_noise_velocity: float = 0.01  # change of the body's velocity
    measurement_noise: float = 0.03       # error of a decoded joint position
    embedding_momentum: float = 0.9       # running embedding = momentum * old + (1 - momentum) * new
    smooth_keypoints: bool = False        # report the filter's keypoints instead of the detection's

    def __post_init__(self) -> None:
        for name in ("min_oks", "min_oks_reid", "embedding_momentum"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise AetrackError(f"tracker.{name} must be between 0 and 1, got {value}")
        if not 0.0 <= self.low_score <= self.high_score:
            raise AetrackError(f"tracker.low_score ({self.low_score}) must be between 0 and tracker.high_score "
                               f"({self.high_score})")
        for name in ("pose_weight", "embedding_weight", "min_joint_score", "new_track_score"):
            if getattr(self, name) < 0:
                raise AetrackError(f"tracker.{name} must not be negative, got {getattr(self, name)}")
        for name in ("max_embedding_distance", "process_noise_joint", "process_noise_velocity",
                     "measurement_noise"):
            if getattr(self, name) <= 0:
                raise AetrackError(f"tracker.{name} must be positive, got {getattr(self, name)}")
        if self.min_hits < 1:
            raise AetrackError(f"tracker.min_hits must be at least 1, got {self.min_hits}")
        if self.max_age < 0:
            raise AetrackError(f"tracker.max_age must not be negative, got {self.max_age}")
