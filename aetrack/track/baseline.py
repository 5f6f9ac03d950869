"""`GreedyOksTracker`: the usual top-down tracking baseline, for comparison with `Tracker`.

Each frame, people take the ids of the previous frame's people greedily, highest OKS first, when the OKS
reaches `min_oks`; everyone left starts a new id. No motion model, no memory beyond the previous frame, no
embeddings: a person missed for one frame comes back with a new id.
"""
from __future__ import annotations

import numpy as np

from aetrack.errors import AetrackError
from aetrack.poses import Poses
from aetrack.track.cost import oks
from aetrack.track.kalman import keypoint_boxes
from aetrack.track.tracker import found_joints
from aetrack.track.tracks import Tracks


def greedy_matches(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """Pairs (row, column) of similarity (M, N) taken best first, each row and column once, all >= min_similarity."""
    rows, cols = np.nonzero(similarity >= min_similarity)
    order = np.argsort(-similarity[rows, cols], kind="stable")
    used_rows, used_cols, pairs = set(), set(), []
    for r, c in zip(rows[order].tolist(), cols[order].tolist()):
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            pairs.append((r, c))
    return pairs


class GreedyOksTracker:
    """Greedy frame-to-frame OKS matching with the `Tracker.update` interface; every reported track is confirmed.

    min_oks: least OKS to keep an id (the tracker's default gate; on the tracking benchmark lower values change
        little and higher ones lose ids); min_score: people scoring below it are ignored (not reported);
    min_joint_score: joints at or below it count as not found.
    """

    def __init__(self, min_oks: float = 0.2, min_score: float = 0.3, min_joint_score: float = 0.1) -> None:
        if not 0.0 <= min_oks <= 1.0:
            raise AetrackError(f"min_oks must be between 0 and 1, got {min_oks}")
        self.min_oks, self.min_score, self.min_joint_score = min_oks, min_score, min_joint_score
        self._keypoints = np.zeros((0, 17, 3))      # the previous frame's people, joints as `found_joints` gives
        self._ids = np.zeros(0, np.int64)
        self._first_frame = np.zeros(0, np.int64)   # frame each of those ids began
        self._hits = np.zeros(0, np.int64)
        self._next_id = 1
        self._last_frame: int | None = None

    def __len__(self) -> int:
        """People remembered (those of the previous frame)."""
        return len(self._ids)

    def update(self, poses: Poses, frame_index: int, time: float | None = None) -> Tracks:
        """Give ids to the people (P) of frame `frame_index` (increasing)."""
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise AetrackError(f"tracker: frame_index must increase, got {frame_index} after {self._last_frame}")
        self._last_frame = frame_index
        keypoints = found_joints(poses.keypoints, self.min_joint_score)
        people = np.flatnonzero((poses.scores >= self.min_score) & (keypoints[..., 2] > 0).any(-1))
        count = len(people)
        ids = np.zeros(count, np.int64)
        first = np.full(count, frame_index, np.int64)
        hits = np.ones(count, np.int64)
        taken = np.zeros(count, bool)
        if len(self._ids) and count:
            found = self._keypoints[..., 2] > 0
            box = keypoint_boxes(self._keypoints[..., :2], found)
            areas = np.maximum((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 1.0)
            for r, c in greedy_matches(oks(self._keypoints, keypoints[people], areas), self.min_oks):
                ids[c], first[c], hits[c], taken[c] = self._ids[r], self._first_frame[r], self._hits[r] + 1, True
        fresh = np.flatnonzero(~taken)
        ids[fresh] = np.arange(self._next_id, self._next_id + len(fresh))
        self._next_id += len(fresh)
        self._keypoints, self._ids, self._first_frame, self._hits = keypoints[people], ids, first, hits

        reported = poses.keypoints[people].astype(np.float32)
        return Tracks(
            ids=ids, keypoints=reported, scores=poses.scores[people].astype(np.float32),
            boxes=keypoint_boxes(reported[..., :2], reported[..., 2] > 0).astype(np.float32),
            embeddings=poses.temporal[people].astype(np.float32), detection_index=people.astype(np.int64),
            age=frame_index - first, hits=hits, confirmed=np.ones(count, bool), frame_index=frame_index, time=time)
