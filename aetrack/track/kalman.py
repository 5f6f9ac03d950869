"""`KeypointFilter`: a constant-velocity Kalman filter (filterpy) over one person's keypoints."""
from __future__ import annotations

import numpy as np
from filterpy.kalman import KalmanFilter

from aetrack.skeleton import NUM_JOINTS
from aetrack.track.config import TrackerConfig

_J = NUM_JOINTS
_EYE = np.eye(_J + 1)  # rows of the identity are the measurement rows H of the observed joints


def transition(steps: int) -> np.ndarray:
    """State transition over `steps` frames (18, 18): every joint moves with the body's shared velocity."""
    f = np.eye(_J + 1)
    f[:_J, _J] = steps
    return f


def process_noise(steps: int, size: float, config: TrackerConfig) -> np.ndarray:
    """Process noise over `steps` frames (18, 18), pixels² for a person `size` pixels tall-and-wide."""
    q = np.full(_J + 1, (config.process_noise_joint * size) ** 2)
    q[_J] = (config.process_noise_velocity * size) ** 2
    return np.diag(q * steps)


def keypoint_boxes(xy: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Boxes x1, y1, x2, y2 (..., 4) around the found joints of points (..., 17, 2); zeros where none is found."""
    mask = found[..., None]
    box = np.concatenate([np.where(mask, xy, np.inf).min(-2), np.where(mask, xy, -np.inf).max(-2)], -1)
    return np.where(found.any(-1)[..., None], box, 0.0)


def person_size(xy: np.ndarray, found: np.ndarray) -> float:
    """Square root of the keypoint box area (pixels), at least one pixel: the scale of all noise and OKS."""
    x1, y1, x2, y2 = keypoint_boxes(xy, found)
    return float(np.sqrt(max((x2 - x1) * (y2 - y1), 1.0)))


class KeypointFilter:
    """Constant-velocity Kalman filter over one person's 17 keypoints (pixels); only observed joints update it.

    State per axis: the 17 joint positions and one velocity shared by the whole body (pixels per frame), so a
    joint that is not seen keeps moving with the body. The x and y axes have the same dynamics and are observed
    together, so they share one covariance: filterpy's `x` is (18, 2), one column per axis, and `P` is (18, 18),
    which halves the state and keeps predict + update near 25 µs.
    """

    def __init__(self, keypoints: np.ndarray, config: TrackerConfig) -> None:
        """keypoints: (17, 3) x, y, score in pixels; joints with score > 0 are observed (at least one must be)."""
        seen = keypoints[:, 2] > 0
        xy = keypoints[:, :2].astype(np.float64)
        self.config = config
        self.known = seen.copy()  # joints observed at least once; the others' positions are guesses
        self.size = person_size(xy, seen)
        x = np.zeros((_J + 1, 2))
        x[:_J] = np.where(seen[:, None], xy, xy[seen].mean(0))  # joints never seen start at the body's centre
        p = np.full(_J + 1, (config.measurement_noise * self.size) ** 2)
        p[:_J][~seen] = self.size ** 2  # anywhere on the body
        p[_J] = (10 * config.process_noise_velocity * self.size) ** 2  # velocity unknown at birth
        self._kf = KalmanFilter(dim_x=_J + 1, dim_z=_J)
        self._kf.x = x
        self._kf.P = np.diag(p)
        self._steady = transition(1)

    def predict(self, steps: int = 1) -> None:
        """Move the state `steps` frames ahead."""
        self._kf.predict(F=self._transition(steps), Q=process_noise(steps, self.size, self.config))

    def predicted_keypoints(self, steps: int = 1) -> np.ndarray:
        """Where `predict(steps)` would put the joints (17, 3), as `keypoints`, leaving the state as it is."""
        xy = (self._transition(steps) @ self._kf.x)[:_J]  # filterpy's predicted mean, on a new array
        return np.concatenate([xy, self.known[:, None].astype(np.float64)], axis=1)

    def _transition(self, steps: int) -> np.ndarray:
        return self._steady if steps == 1 else transition(steps)

    def update(self, keypoints: np.ndarray) -> None:
        """Correct with the observed joints (score > 0) of (17, 3) keypoints in pixels."""
        seen = keypoints[:, 2] > 0
        if not seen.any():
            return
        idx = np.flatnonzero(seen)
        r = np.eye(len(idx)) * (self.config.measurement_noise * self.size) ** 2
        # H selects the observed joints' rows, so unobserved joints are corrected only through their
        # correlation with the shared velocity, never by a made-up measurement.
        self._kf.update(keypoints[idx, :2].astype(np.float64), R=r, H=_EYE[idx])
        self.known |= seen
        self.size = person_size(self._kf.x[:_J], self.known)

    @property
    def keypoints(self) -> np.ndarray:
        """Current estimate (17, 3): x, y in pixels and 1.0 for joints seen at least once, else 0.0."""
        return np.concatenate([self._kf.x[:_J], self.known[:, None].astype(np.float64)], axis=1)

    @property
    def variances(self) -> np.ndarray:
        """Position variance of each joint (17,), pixels² per axis."""
        return np.diagonal(self._kf.P)[:_J].copy()

    @property
    def velocity(self) -> np.ndarray:
        """Body velocity (2,), pixels per frame."""
        return self._kf.x[_J].copy()
