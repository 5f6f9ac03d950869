"""`Tracker`: links the people of successive frames into tracks, one frame at a time."""
from __future__ import annotations

import numpy as np

from aetrack.errors import AetrackError
from aetrack.poses import Poses
from aetrack.track.assignment import assign
from aetrack.track.config import TrackerConfig
from aetrack.track.cost import association_cost, embedding_distance, oks
from aetrack.track.kalman import keypoint_boxes
from aetrack.track.state import Track, TrackState
from aetrack.track.tracks import Tracks

Matches = list[tuple[Track, int]]


def found_joints(keypoints: np.ndarray, min_joint_score: float) -> np.ndarray:
    """Copy of keypoints (P, 17, 3) as float64 with the score of joints at or below min_joint_score set to 0."""
    out = keypoints.astype(np.float64)
    out[..., 2] = np.where(out[..., 2] > min_joint_score, out[..., 2], 0.0)
    return out


class Tracker:
    """Streaming multi-person tracker: `update` takes one frame's people and returns the tracks seen in it.

    Each frame: predict every track, then match in rounds (cost building in `cost.py`, solving in
    `assignment.py`): confident people to tracked tracks; less confident people to the tracked tracks left
    (ByteTrack's second round, pose only); confident people left to lost tracks (re-identification, mostly by
    embedding: the only round in which the embedding gates pairs); then to tentative tracks. Confident people
    left over start tentative tracks (in the first frame, confirmed ones: nothing earlier could have confirmed
    them, and waiting `min_hits` frames would drop every person of the video's first frames). Memory is bounded by the live tracks: removed tracks are forgotten and no
    history is kept.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[Track] = []
        self._next_id = 1
        self._last_frame: int | None = None
        self._first_frame: int | None = None
        self._embedding_dim: int | None = None

    def __len__(self) -> int:
        """Tracks held (tentative, tracked and lost)."""
        return len(self._tracks)

    def update(self, poses: Poses, frame_index: int, time: float | None = None) -> Tracks:
        """Track the people (P) of frame `frame_index` (increasing; gaps are frames without people)."""
        steps = self._advance(frame_index)
        embedding_dim = self._check_embedding_dim(poses)
        for track in self._tracks:
            track.predict(steps)
        keypoints = found_joints(poses.keypoints, self.config.min_joint_score)
        matched = self._associate_all(keypoints, poses.scores, poses.temporal, embedding_dim, frame_index)
        self._start_tracks(keypoints, poses.scores, poses.temporal, matched, frame_index)
        self._tracks = [t for t in self._tracks if t.state is not TrackState.REMOVED]
        return self._report(poses, frame_index, time)

    def predicted_boxes(self, frame_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the confirmed tracks (tracked and lost) should be in frame `frame_index`, by their Kalman
        prediction; the tracker is left as it was, so this may come before that frame's `update`.

        Returns ids (T,) int64 and boxes (T, 4) float32 x1, y1, x2, y2 around the joints each track has seen,
        in the pixels of the `Poses` given to `update`; none before the first update.
        """
        live = [t for t in self._tracks if t.confirmed]
        if not live:
            return np.zeros(0, np.int64), np.zeros((0, 4), np.float32)
        if frame_index < self._last_frame:
            raise AetrackError(f"tracker: cannot predict frame {frame_index}, earlier than {self._last_frame}")
        keypoints = np.stack([t.filter.predicted_keypoints(frame_index - self._last_frame) for t in live])
        boxes = keypoint_boxes(keypoints[..., :2], keypoints[..., 2] > 0)
        return np.array([t.id for t in live], np.int64), boxes.astype(np.float32)

    def _advance(self, frame_index: int) -> int:
        """Frames elapsed since the previous update (1 on the first)."""
        last = self._last_frame
        if last is not None and frame_index <= last:
            raise AetrackError(f"tracker: frame_index must increase, got {frame_index} after {last}")
        self._last_frame = frame_index
        if last is None:
            self._first_frame = frame_index
        return 1 if last is None else frame_index - last

    def _check_embedding_dim(self, poses: Poses) -> int:
        """The temporal tag size E, fixed by the first non-empty frame."""
        if len(poses) == 0:
            return self._embedding_dim or 0
        dim = poses.temporal.shape[1]
        if self._embedding_dim is None:
            self._embedding_dim = dim
        elif dim != self._embedding_dim:
            raise AetrackError(f"tracker: temporal tags changed size from {self._embedding_dim} to {dim}; "
                               "use one tracker per model")
        return dim

    def _associate_all(self, keypoints: np.ndarray, scores: np.ndarray, temporal: np.ndarray, embedding_dim: int,
                       frame_index: int) -> set[int]:
        """Run the matching rounds, update matched tracks, mark the others missed; returns the people used.

        keypoints: (P, 17, 3) from `found_joints`; scores: (P,); temporal: (P, E).
        """
        cfg = self.config
        usable = (keypoints[..., 2] > 0).any(-1)
        high = np.flatnonzero(usable & (scores >= cfg.high_score))
        low = np.flatnonzero(usable & (scores >= cfg.low_score) & (scores < cfg.high_score))
        by_state = {s: [t for t in self._tracks if t.state is s] for s in TrackState}
        with_embedding = embedding_dim > 0 and cfg.embedding_weight > 0

        # With tracked and tentative tracks the embedding helps choose but does not gate: their predictions are
        # close, and a gate against one frame's noisy tag would turn people away from their own tracks.
        confident, tracked_left, high = self._match(by_state[TrackState.TRACKED], keypoints, temporal, high,
                                                    cfg.min_oks, with_embedding, gate_embedding=False)
        # Less confident people are often occluded ones whose temporal tag averages few joints: pose only.
        unsure, _, _ = self._match(tracked_left, keypoints, temporal, low, cfg.min_oks, False)
        # A lost track's prediction has drifted: the embedding re-identifies, the pose gate only loosely checks.
        reid_oks = cfg.min_oks_reid if with_embedding else cfg.min_oks
        found_again, _, high = self._match(by_state[TrackState.LOST], keypoints, temporal, high, reid_oks,
                                           with_embedding)
        new, _, _ = self._match(by_state[TrackState.TENTATIVE], keypoints, temporal, high, cfg.min_oks,
                                with_embedding, gate_embedding=False)

        for track, d in confident + found_again + new:
            track.update(keypoints[d], temporal[d], frame_index, d)
        for track, d in unsure:
            track.update(keypoints[d], None, frame_index, d)
        for track in self._tracks:
            if track.last_frame != frame_index:
                track.miss(frame_index)
        return {d for _, d in confident + unsure + found_again + new}

    def _match(self, tracks: list[Track], keypoints: np.ndarray, temporal: np.ndarray, people: np.ndarray,
               min_oks: float, with_embedding: bool, gate_embedding: bool = True) -> tuple[Matches, list[Track],
                                                                                        np.ndarray]:
        """One round: match tracks to the given people; returns matches, tracks left, people left."""
        if not tracks or not len(people):
            return [], tracks, people
        cfg = self.config
        predicted = np.stack([t.filter.keypoints for t in tracks])
        areas = np.array([t.filter.size for t in tracks]) ** 2
        variances = np.stack([t.filter.variances for t in tracks])
        similarity = oks(predicted, keypoints[people], areas, variances)
        distance = None
        if with_embedding:
            distance = embedding_distance(np.stack([t.embedding for t in tracks]), temporal[people])
        cost = association_cost(similarity, distance, pose_weight=cfg.pose_weight,
                                embedding_weight=cfg.embedding_weight, min_oks=min_oks,
                                max_distance=cfg.max_embedding_distance, gate_distance=gate_embedding)
        pairs, rows, cols = assign(cost)
        return ([(tracks[r], int(people[c])) for r, c in pairs], [tracks[r] for r in rows], people[cols])

    def _start_tracks(self, keypoints: np.ndarray, scores: np.ndarray, temporal: np.ndarray, matched: set[int],
                      frame_index: int) -> None:
        """Start tentative tracks from confident unmatched people, then give ids to newly confirmed tracks."""
        cfg = self.config
        least = max(cfg.new_track_score, cfg.high_score)  # less confident people only extend tracks
        for d in range(len(keypoints)):
            if d not in matched and scores[d] >= least and (keypoints[d, :, 2] > 0).any():
                self._tracks.append(Track(keypoints[d], temporal[d], frame_index, d, cfg,
                                          confirmed=frame_index == self._first_frame))
        for track in self._tracks:
            if track.id < 0 and track.confirmed:
                track.id = self._next_id
                self._next_id += 1

    def _report(self, poses: Poses, frame_index: int, time: float | None) -> Tracks:
        """The tracks matched in this frame (confirmed ones, and tentative ones if asked), by detection index."""
        shown = [t for t in self._tracks if t.last_frame == frame_index
                 and (t.confirmed or self.config.report_tentative)]
        shown.sort(key=lambda t: t.detection_index)
        if not shown:
            return Tracks.empty(self._embedding_dim or 0, frame_index, time)
        index = np.array([t.detection_index for t in shown], np.int64)
        keypoints = poses.keypoints[index].astype(np.float32)
        if self.config.smooth_keypoints:
            for row, track in enumerate(shown):
                seen = keypoints[row, :, 2] > self.config.min_joint_score
                keypoints[row, seen, :2] = track.filter.keypoints[seen, :2]
        return Tracks(
            ids=np.array([t.id for t in shown], np.int64),
            keypoints=keypoints,
            scores=poses.scores[index].astype(np.float32),
            boxes=keypoint_boxes(keypoints[..., :2], keypoints[..., 2] > 0).astype(np.float32),
            embeddings=np.stack([t.embedding for t in shown]).astype(np.float32),
            detection_index=index,
            age=np.array([frame_index - t.first_frame for t in shown], np.int64),
            hits=np.array([t.hits for t in shown], np.int64),
            confirmed=np.array([t.confirmed for t in shown], bool),
            frame_index=frame_index,
            time=time,
        )
