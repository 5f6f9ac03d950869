"""Tracker: pure costs and matching, the Kalman filter, and identities over synthetic walking people."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from aetrack.errors import AetrackError
from aetrack.poses import Poses
from aetrack.track import Tracker, TrackerConfig, Tracks
from aetrack.track.assignment import assign
from aetrack.track.cost import association_cost, embedding_distance, oks
from aetrack.track.kalman import KeypointFilter

# A person facing the camera, x relative to the body's axis and y from the top of the head, in body heights.
TEMPLATE = np.array([
    [0.0, 0.05], [0.02, 0.03], [-0.02, 0.03], [0.05, 0.05], [-0.05, 0.05],
    [0.12, 0.20], [-0.12, 0.20], [0.15, 0.38], [-0.15, 0.38], [0.16, 0.52], [-0.16, 0.52],
    [0.08, 0.55], [-0.08, 0.55], [0.09, 0.75], [-0.09, 0.75], [0.09, 0.95], [-0.09, 0.95],
])


@dataclass
class Walker:
    """A synthetic person: skeleton template at `start` (pixels) moving `velocity` pixels per frame."""

    start: tuple[float, float]
    velocity: tuple[float, float]
    height: float = 150.0
    tag: tuple[float, ...] = ()
    visible: set[int] | None = None  # frames in which the person is seen; None: all
    turn_at: int | None = None       # frame at which the velocity reverses
    stop_at: int | None = None       # frame from which the person stands still
    score: float = 0.9
    low_score_frames: set[int] = field(default_factory=set)

    def position(self, t: int) -> np.ndarray:
        start, v = np.array(self.start), np.array(self.velocity)
        if self.stop_at is not None:
            return start + v * min(t, self.stop_at)
        if self.turn_at is None or t <= self.turn_at:
            return start + v * t
        return start + v * self.turn_at - v * (t - self.turn_at)

    def seen(self, t: int) -> bool:
        return self.visible is None or t in self.visible


def random_walkers(rng: np.random.Generator, count: int, frames: int, area: float, speed: float, tag_scale: float,
                   hidden: float = 0.2, score: tuple[float, float] | None = None) -> list[Walker]:
    """`count` walkers starting anywhere in an `area` square, moving up to `speed` px per frame each way, with 2-D
    tags of spread `tag_scale`, a `score` drawn from that range if given, and each frame unseen with
    probability `hidden` (drawn in that order, per walker)."""
    walkers = []
    for _ in range(count):
        start, velocity = tuple(rng.uniform(0, area, 2)), tuple(rng.uniform(-speed, speed, 2))
        tag = tuple(rng.normal(0, tag_scale, 2))
        extra = {"score": float(rng.uniform(*score))} if score else {}
        visible = set(np.flatnonzero(rng.random(frames) > hidden).tolist())
        walkers.append(Walker(start, velocity, tag=tag, visible=visible, **extra))
    return walkers


def make_frames(walkers: list[Walker], frames: int, seed: int = 0, noise: float = 1.5, missing: float = 0.1,
                tag_noise: float = 0.05, clutter: float = 0.0) -> list[tuple[Poses, list[int]]]:
    """Per frame, the Poses of the seen walkers in shuffled order and the walker behind each row (-1: clutter)."""
    rng = np.random.default_rng(seed)
    dim = len(walkers[0].tag) if walkers else 0
    out = []
    for t in range(frames):
        rows, labels = [], []
        for label, w in enumerate(walkers):
            if not w.seen(t):
                continue
            xy = TEMPLATE * w.height + w.position(t) + rng.normal(0, noise, (17, 2))
            joint_scores = rng.uniform(0.7, 1.0, 17)
            joint_scores[rng.random(17) < missing] = 0.0
            keypoints = np.concatenate([xy, joint_scores[:, None]], 1)
            keypoints[joint_scores == 0, :2] = 0.0
            score = 0.2 if t in w.low_score_frames else w.score
            tag = np.array(w.tag) + rng.normal(0, tag_noise, dim)
            rows.append((keypoints, score, tag))
            labels.append(label)
        if clutter and rng.random() < clutter:  # a one-frame false positive somewhere random
            xy = TEMPLATE * 100 + rng.uniform(0, 1500, 2)
            rows.append((np.concatenate([xy, np.full((17, 1), 0.8)], 1), 0.8, rng.normal(0, 3, dim)))
            labels.append(-1)
        order = rng.permutation(len(rows))
        out.append((to_poses([rows[i] for i in order], dim), [labels[i] for i in order]))
    return out


def to_poses(rows: list[tuple[np.ndarray, float, np.ndarray]], dim: int) -> Poses:
    if not rows:
        return Poses.empty(temporal_dim=dim)
    keypoints = np.stack([r[0] for r in rows]).astype(np.float32)
    n = len(rows)
    return Poses(keypoints, np.array([r[1] for r in rows], np.float32), np.zeros((n, 1), np.float32),
                 np.zeros((n, 17, 1), np.float32), np.stack([r[2] for r in rows]).astype(np.float32).reshape(n, dim))


def run(tracker: Tracker, frames: list[tuple[Poses, list[int]]]) -> list[dict[int, int]]:
    """Per frame, walker label -> reported track id."""
    history = []
    for t, (poses, labels) in enumerate(frames):
        tracks = tracker.update(poses, t)
        history.append({labels[d]: int(i) for d, i in zip(tracks.detection_index, tracks.ids)})
    return history


def ids_of(history: list[dict[int, int]], label: int) -> list[int]:
    """The distinct ids given to one walker, in order of appearance."""
    seen: list[int] = []
    for frame in history:
        if label in frame and frame[label] not in seen:
            seen.append(frame[label])
    return seen


def assert_one_id_each(history: list[dict[int, int]], labels: range) -> None:
    ids = [ids_of(history, label) for label in labels]
    assert all(len(i) == 1 for i in ids), ids
    assert len({i[0] for i in ids}) == len(ids), ids


# ---- pure costs and matching -------------------------------------------------------------------------------

def person(x: float = 100.0, y: float = 100.0, height: float = 150.0) -> np.ndarray:
    return np.concatenate([TEMPLATE * height + [x, y], np.ones((17, 1))], 1)


def test_oks_is_one_for_the_same_pose_and_falls_with_distance():
    a = person()[None]
    b = np.stack([person(), person(x=105), person(x=130), person(x=400)])
    s = oks(a, b, np.array([150.0 * 40]))
    assert s.shape == (1, 4)
    assert s[0, 0] == pytest.approx(1.0)
    assert 1.0 > s[0, 1] > s[0, 2] > s[0, 3] >= 0.0


def test_oks_counts_joints_found_in_both_and_widens_with_variance():
    a, b = person()[None], person(x=110)[None]
    area = np.array([6000.0])
    nothing_common = b.copy()
    nothing_common[0, :, 2] = 0
    assert oks(a, nothing_common, area)[0, 0] == 0.0
    half = b.copy()
    half[0, 8:, 2] = 0
    assert oks(a, half, area)[0, 0] != oks(a, b, area)[0, 0]
    assert oks(a, b, area, np.full((1, 17), 100.0))[0, 0] > oks(a, b, area)[0, 0]


def test_embedding_distance_is_euclidean_and_empty_without_tags():
    a, b = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0]])
    np.testing.assert_allclose(embedding_distance(a, b), [[5.0], [np.hypot(2, 3)]])
    assert embedding_distance(np.zeros((2, 0)), np.zeros((3, 0))).tolist() == [[0.0] * 3] * 2


def test_association_cost_combines_terms_and_gates():
    similarity = np.array([[0.9, 0.1], [0.5, 0.6]])
    distance = np.array([[0.2, 0.1], [2.0, 0.5]])
    cost = association_cost(similarity, distance, pose_weight=1.0, embedding_weight=2.0, min_oks=0.2,
                            max_distance=1.0)
    assert cost[0, 0] == pytest.approx(0.1 + 0.4)
    assert np.isinf(cost[0, 1]) and np.isinf(cost[1, 0])  # pose gate, embedding gate
    assert cost[1, 1] == pytest.approx(0.4 + 1.0)
    pose_only = association_cost(similarity, None, pose_weight=1.0, embedding_weight=2.0, min_oks=0.2,
                                 max_distance=1.0)
    assert pose_only[1, 0] == pytest.approx(0.5)


def test_assign_takes_the_cheapest_allowed_matching():
    inf = np.inf
    matches, rows, cols = assign(np.array([[1.0, 0.1, inf], [0.2, 0.3, inf], [inf, inf, inf]]))
    assert matches.tolist() == [[0, 1], [1, 0]]
    assert rows.tolist() == [2] and cols.tolist() == [2]
    for shape in [(0, 3), (2, 0), (2, 2)]:
        m, r, c = assign(np.full(shape, inf))
        assert len(m) == 0 and len(r) == shape[0] and len(c) == shape[1]


# ---- Kalman filter -----------------------------------------------------------------------------------------

def test_filter_predicts_constant_velocity_and_moves_unseen_joints_with_the_body():
    config = TrackerConfig()
    first = person(100, 100)
    f = KeypointFilter(first, config)
    for t in range(1, 20):
        f.predict()
        kp = person(100 + 4 * t, 100 + 1 * t)
        kp[13:, 2] = 0  # legs hidden after the first frame
        f.update(kp)
    f.predict()
    predicted = f.keypoints
    truth = person(100 + 4 * 20, 100 + 20)
    np.testing.assert_allclose(f.velocity, [4.0, 1.0], atol=0.3)
    assert np.abs(predicted[:13, :2] - truth[:13, :2]).max() < 3.0
    assert np.abs(predicted[13:, :2] - truth[13:, :2]).max() < 6.0  # not seen for 19 frames, still followed
    assert (predicted[:, 2] == 1).all()
    assert f.variances[13:].min() > f.variances[:13].max()


def test_filter_starts_joints_never_seen_as_unknown():
    kp = person()
    kp[9:, 2] = 0
    f = KeypointFilter(kp, TrackerConfig())
    assert f.keypoints[:9, 2].all() and not f.keypoints[9:, 2].any()
    f.predict()
    f.update(person())
    assert f.keypoints[:, 2].all()


# ---- tracking ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 4])
def test_straight_walks_keep_their_ids(dim):
    rng = np.random.default_rng(1)
    walkers = [Walker((100.0 + 300 * i, 200.0 + 50 * i), tuple(rng.uniform(-3, 3, 2)),
                      tag=tuple(rng.normal(0, 3, dim))) for i in range(4)]
    history = run(Tracker(), make_frames(walkers, 60))
    assert_one_id_each(history, range(4))
    assert sorted(history[-1].values()) == [1, 2, 3, 4]
    assert all(len(frame) == 4 for frame in history)  # the first frame's people are confirmed at once


def test_people_arriving_later_are_confirmed_after_min_hits():
    walkers = [Walker((100.0, 200.0), (1.0, 0.0)), Walker((500.0, 300.0), (-1.0, 0.0), visible=set(range(5, 12)))]
    history = run(Tracker(TrackerConfig(min_hits=3)), make_frames(walkers, 12))
    assert [len(frame) for frame in history] == [1] * 7 + [2] * 5  # the second, seen from frame 5, from 7 on


def crossing(dim: int, turn: bool = False) -> list[Walker]:
    """Two people walking towards each other along the same line; they meet at frame 20."""
    tags = [(0.0,) * dim, (2.0,) * dim]
    turn_at = 20 if turn else None
    return [Walker((100.0, 300.0), (5.0, 0.0), tag=tags[0], turn_at=turn_at),
            Walker((300.0, 302.0), (-5.0, 0.0), tag=tags[1], turn_at=turn_at)]


@pytest.mark.parametrize("dim", [0, 3])
def test_people_crossing_paths_are_not_swapped(dim):
    history = run(Tracker(), make_frames(crossing(dim), 45))
    assert_one_id_each(history, range(2))


def test_embeddings_keep_ids_when_motion_misleads():
    # Both turn back where they meet: motion predicts they pass each other, the embeddings say otherwise.
    history = run(Tracker(), make_frames(crossing(3, turn=True), 45))
    assert_one_id_each(history, range(2))
    without = run(Tracker(), make_frames(crossing(0, turn=True), 45))
    assert len(ids_of(without, 0)) == 2  # the scenario is hard: motion alone swaps them
    ignored = run(Tracker(TrackerConfig(embedding_weight=0.0)), make_frames(crossing(3, turn=True), 45))
    assert len(ids_of(ignored, 0)) == 2  # a zero weight ignores the tags


def test_occluded_person_comes_back_with_the_same_id():
    # Hidden for 15 frames < max_age, and stopped meanwhile, so the prediction overshot by ~90 px (more than
    # a body width): the embedding re-identifies, pose and motion alone would not (see the next test).
    hidden = set(range(20, 35))
    walkers = [Walker((100.0, 100.0), (6.0, 0.0), tag=(1.0, -1.0), visible=set(range(60)) - hidden, stop_at=20),
               Walker((100.0, 400.0), (2.0, -0.5), tag=(-1.0, 1.0))]
    history = run(Tracker(TrackerConfig(max_age=30)), make_frames(walkers, 60))
    assert_one_id_each(history, range(2))
    assert 0 in history[35] and 0 not in history[30]
    no_tags = [replace(w, tag=()) for w in walkers]
    assert len(ids_of(run(Tracker(), make_frames(no_tags, 60)), 0)) == 2


def test_short_occlusion_without_embeddings_is_bridged_by_motion():
    walkers = [Walker((100.0, 100.0), (3.0, 0.5), visible=set(range(40)) - set(range(15, 20)))]
    history = run(Tracker(), make_frames(walkers, 40))
    assert_one_id_each(history, range(1))


def test_person_gone_longer_than_max_age_gets_a_new_id():
    walkers = [Walker((100.0, 100.0), (1.0, 0.0), tag=(1.0, -1.0), visible=set(range(10)) | set(range(25, 40)))]
    tracker = Tracker(TrackerConfig(max_age=10))
    history = run(tracker, make_frames(walkers, 40))
    assert ids_of(history, 0) == [1, 2]
    assert len(tracker) == 1  # the old track was forgotten


def test_one_frame_false_positives_are_never_reported():
    walkers = [Walker((100.0, 100.0), (2.0, 0.0), tag=(0.0, 0.0))]
    frames = make_frames(walkers, 80, clutter=0.5)
    history = run(Tracker(), frames)
    assert -1 not in {label for frame in history for label in frame}
    assert_one_id_each(history, range(1))
    tentative = Tracker(TrackerConfig(report_tentative=True))
    for t, (poses, labels) in enumerate(frames):
        tracks = tentative.update(poses, t)
        for d, i, ok in zip(tracks.detection_index, tracks.ids, tracks.confirmed):
            if labels[d] == -1:
                assert i == -1 and not ok


def test_empty_frames():
    tracker = Tracker()
    empty = tracker.update(Poses.empty(), 0)
    assert isinstance(empty, Tracks) and len(empty) == 0
    assert empty.keypoints.shape == (0, 17, 3) and empty.boxes.shape == (0, 4)
    walkers = [Walker((100.0, 100.0), (2.0, 0.0), tag=(0.5,), visible=set(range(1, 30)) - {12, 13})]
    frames = make_frames(walkers, 30)
    history = [tracker.update(poses, t) for t, (poses, _) in enumerate(frames) if t > 0]
    assert len(history[11]) == 0 and history[11].embeddings.shape == (0, 1)  # frame 12 is empty
    assert {int(h.ids[0]) for h in history if len(h)} == {1}


def test_thirty_people_stay_consistent():
    rng = np.random.default_rng(3)
    walkers = [Walker((80.0 + 180 * (i % 10), 50.0 + 300 * (i // 10)), tuple(rng.uniform(-2, 2, 2)),
                      height=140.0) for i in range(30)]
    history = run(Tracker(), make_frames(walkers, 40))
    assert_one_id_each(history, range(30))
    assert len(history[-1]) == 30


def test_low_score_frames_extend_tracks_but_never_start_them():
    walkers = [Walker((100.0, 100.0), (2.0, 0.0), low_score_frames=set(range(10, 20))),
               Walker((600.0, 100.0), (2.0, 0.0), score=0.2)]
    history = run(Tracker(), make_frames(walkers, 30))
    assert ids_of(history, 0) == [1] and all(0 in frame for frame in history[2:])
    assert ids_of(history, 1) == []


def test_frame_gaps_are_predicted_over():
    walkers = [Walker((100.0, 100.0), (6.0, 0.0))]
    frames = make_frames(walkers, 60)
    tracker = Tracker()
    ids = {int(i) for t in range(0, 60, 3) for i in tracker.update(frames[t][0], t).ids}
    assert ids == {1}


def test_tracking_is_deterministic():
    rng = np.random.default_rng(5)
    walkers = random_walkers(rng, 8, 50, area=1000, speed=4, tag_scale=2)
    frames = make_frames(walkers, 50, clutter=0.3)
    first, second = Tracker(), Tracker()
    for t, (poses, _) in enumerate(frames):
        a, b = first.update(poses, t), second.update(poses, t)
        for name in ("ids", "keypoints", "detection_index", "embeddings", "hits"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("seed", range(4))
def test_reported_detection_indices_are_unique_and_valid(seed):
    rng = np.random.default_rng(seed)
    walkers = random_walkers(rng, 12, 40, area=800, speed=6, tag_scale=1, hidden=0.3, score=(0.15, 1.0))
    tracker = Tracker(TrackerConfig(report_tentative=True, min_oks=0.0))
    for t, (poses, _) in enumerate(make_frames(walkers, 40, seed=seed, clutter=0.5, missing=0.4)):
        tracks = tracker.update(poses, t)
        index = tracks.detection_index
        assert len(set(index.tolist())) == len(index)
        assert ((index >= 0) & (index < len(poses))).all()
        confirmed_ids = tracks.ids[tracks.confirmed]
        assert len(set(confirmed_ids.tolist())) == len(confirmed_ids) and (confirmed_ids >= 1).all()
        np.testing.assert_array_equal(tracks.scores, poses.scores[index])


def test_smoothing_reports_filtered_keypoints_closer_to_the_truth():
    walker = Walker((100.0, 100.0), (3.0, 1.0))
    frames = make_frames([walker], 40, noise=6.0, missing=0.0)
    # Noise settings that match the synthetic data: 6 px on a person ~80 px in size, rigid skeleton.
    config = TrackerConfig(measurement_noise=0.07, process_noise_joint=0.01)
    raw, smooth = Tracker(config), Tracker(replace(config, smooth_keypoints=True))
    errors = {"raw": [], "smooth": []}
    for t, (poses, _) in enumerate(frames):
        truth = TEMPLATE * walker.height + walker.position(t)
        for name, tracker in (("raw", raw), ("smooth", smooth)):
            tracks = tracker.update(poses, t)
            if t >= 10:
                errors[name].append(np.abs(tracks.keypoints[0, :, :2] - truth).mean())
    assert np.mean(errors["smooth"]) < 0.8 * np.mean(errors["raw"])


def test_predicted_boxes_leave_the_tracking_as_it_was():
    rng = np.random.default_rng(7)
    walkers = random_walkers(rng, 6, 50, area=800, speed=5, tag_scale=2)
    frames = make_frames(walkers, 50, clutter=0.3)
    plain, asked = Tracker(), Tracker()
    assert [len(a) for a in asked.predicted_boxes(0)] == [0, 0]  # nothing to predict before the first frame
    for t, (poses, _) in enumerate(frames):
        for ahead in (t, t + 2):
            ids, boxes = asked.predicted_boxes(ahead)
            assert boxes.shape == (len(ids), 4) and boxes.dtype == np.float32 and (ids >= 1).all()
        a, b = plain.update(poses, t), asked.update(poses, t)
        for name in ("ids", "keypoints", "detection_index", "embeddings", "hits", "boxes"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with pytest.raises(AetrackError, match="cannot predict"):
        asked.predicted_boxes(10)


def test_predicted_box_follows_constant_velocity():
    walker = Walker((100.0, 100.0), (6.0, 2.0))
    frames = make_frames([walker], 21, missing=0.0)
    tracker = Tracker()
    for t, (poses, _) in enumerate(frames[:20]):
        tracker.update(poses, t)
    ids, boxes = tracker.predicted_boxes(20)
    assert ids.tolist() == [1]

    def centre(xy: np.ndarray) -> np.ndarray:
        return (xy.min(0) + xy.max(0)) / 2

    truth = centre(TEMPLATE * walker.height + walker.position(20))
    last_seen = centre(frames[19][0].keypoints[0, :, :2])
    error = np.linalg.norm((boxes[0, :2] + boxes[0, 2:]) / 2 - truth)
    assert error < 2.0 and error < 0.5 * np.linalg.norm(last_seen - truth)
    three_ahead = tracker.predicted_boxes(22)[1][0]
    np.testing.assert_allclose(three_ahead - boxes[0], [12, 4, 12, 4], atol=1.0)  # two more frames of motion


def test_reported_record_fields():
    walkers = [Walker((100.0, 100.0), (2.0, 0.0), tag=(1.0, 2.0))]
    tracker = Tracker()
    for t, (poses, _) in enumerate(make_frames(walkers, 5, missing=0.0)):
        tracks = tracker.update(poses, t, time=t / 25)
    assert tracks.frame_index == 4 and tracks.time == pytest.approx(0.16)
    assert tracks.age.tolist() == [4] and tracks.hits.tolist() == [5] and tracks.confirmed.tolist() == [True]
    np.testing.assert_allclose(tracks.embeddings[0], [1.0, 2.0], atol=0.1)
    kp = poses.keypoints[0]
    np.testing.assert_allclose(tracks.boxes[0], [*kp[:, :2].min(0), *kp[:, :2].max(0)])
    assert len(tracks[[0]]) == 1 and tracks[[0]].frame_index == 4


def test_user_errors():
    tracker = Tracker()
    frames = make_frames([Walker((100.0, 100.0), (1.0, 0.0), tag=(1.0,))], 2)
    tracker.update(frames[0][0], 5)
    with pytest.raises(AetrackError, match="frame_index must increase"):
        tracker.update(frames[1][0], 5)
    other = make_frames([Walker((100.0, 100.0), (1.0, 0.0), tag=(1.0, 2.0))], 1)[0][0]
    with pytest.raises(AetrackError, match="temporal tags changed size"):
        tracker.update(other, 6)
    with pytest.raises(AetrackError, match="tracker.min_hits"):
        TrackerConfig(min_hits=0)
    with pytest.raises(AetrackError, match="tracker.low_score"):
        TrackerConfig(low_score=0.5, high_score=0.3)
