"""The tracking benchmark's core on tiny inputs: corruption, the greedy baseline, and the tracker beating it."""
from __future__ import annotations

import importlib.util
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from aetrack.poses import Poses
from aetrack.skeleton import JOINT_INDEX
from aetrack.track.baseline import GreedyOksTracker, greedy_matches


def _load_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tracking.py"
    spec = importlib.util.spec_from_file_location("tracking_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()
TRACKER, WITHOUT_TAGS, GREEDY = (m.name for m in bench.default_methods())


@pytest.fixture(scope="module")
def synthetic():
    return bench.synthetic_videos(videos=1, frames=80, people=5, seed=3)


def check_ranges(result) -> None:
    assert 0.0 <= result.idf1 <= 100.0 and -100.0 <= result.mota <= 100.0
    assert 0.0 <= result.precision <= 100.0 and 0.0 <= result.recall <= 100.0
    assert result.id_switches >= 0 and result.fps > 0 and math.isfinite(result.fps)


def test_tracker_beats_greedy_baseline_on_a_short_synthetic_video(synthetic, tmp_path):
    results = bench.evaluate(synthetic, bench.Corruption(), bench.default_methods(), tmp_path)
    assert set(results) == {TRACKER, WITHOUT_TAGS, GREEDY}
    for result in results.values():
        check_ranges(result)
        assert result.frames == 80 and result.videos == 1
    assert results[TRACKER].idf1 >= results[GREEDY].idf1
    assert results[TRACKER].id_switches <= results[GREEDY].id_switches
    assert results[TRACKER].idf1 > 60 and results[TRACKER].mota > 40


def test_noisy_temporal_tags_do_not_make_the_tracker_worse_than_pose_and_motion(synthetic, tmp_path):
    # Tags much noisier than a trained network's (a frame's tag is often beyond the 1.0 gate from its track's):
    # the embedding must not turn people away from their own tracks (it did while it gated every round).
    noisy = bench.Corruption(tag_noise=0.5, seed=1)
    results = bench.evaluate(synthetic, noisy, bench.default_methods(), tmp_path)
    assert results[TRACKER].idf1 > results[WITHOUT_TAGS].idf1 - 3.0
    assert results[TRACKER].idf1 > results[GREEDY].idf1


def test_bonn_ground_truth_is_read_with_limb_joints_in_coco_slots(shared, tmp_path):
    path = shared / "data/posetrack/bonn_multiperson/converted/060470979_test.posetrack17.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    (video,) = bench.bonn_videos(path)
    assert len(video.keypoints) == 41 and all(len(ids) == 4 for ids in video.track_ids)
    first = video.keypoints[0]
    assert (first[:, :5, 2] == 0).all()  # no nose, eyes or ears in the Bonn annotations
    assert (first[:, 5:, 2] > 0).mean() > 0.9 and (video.head_points[0][:, :, 2] > 0).all()
    # the right ankle is PoseTrack 2017 joint 0 of the first person, as the file says
    point = video.posetrack["annolist"][0]["annorect"][0]["annopoints"][0]["point"][0]
    np.testing.assert_allclose(first[0, JOINT_INDEX["right_ankle"], :2], [point["x"][0], point["y"][0]], rtol=1e-5)
    results = bench.evaluate([video], bench.Corruption(), bench.default_methods(), tmp_path)
    check_ranges(results[TRACKER])
    assert results[TRACKER].idf1 >= results[GREEDY].idf1


def test_detections_are_seeded_and_corrupted(synthetic):
    video = synthetic[0]
    corruption = bench.Corruption(false_positives=0.5)
    a, b = bench.detect(video, corruption), bench.detect(video, corruption)
    assert len(a) == len(video.keypoints)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.poses.keypoints, y.poses.keypoints)
        np.testing.assert_array_equal(x.poses.temporal, y.poses.temporal)
    other = bench.detect(video, replace(corruption, seed=9))
    assert any(len(x.poses) != len(y.poses) or not np.array_equal(x.poses.keypoints, y.poses.keypoints)
               for x, y in zip(a, other))
    sources = np.concatenate([f.sources for f in a])
    assert (sources == -1).any() and (sources >= 0).mean() > 0.8  # false people, but mostly real ones
    truth = sum(len(ids) for ids in video.track_ids)
    assert 0.7 * truth < (sources >= 0).sum() < truth  # some people missed
    frame = next(f for f in a if len(f.poses) > 1)
    assert frame.poses.temporal.shape == (len(frame.poses), 2) and frame.poses.tags.shape == (len(frame.poses), 1)
    assert ((frame.poses.scores > 0) & (frame.poses.scores <= 1)).all()


def test_temporal_tags_are_each_tracks_embedding_plus_noise(synthetic):
    frames = bench.detect(synthetic[0], bench.Corruption(tag_noise=0.1, false_positives=0.0))
    by_track: dict[int, list[np.ndarray]] = {}
    for frame in frames:
        for source, tag in zip(frame.sources.tolist(), frame.poses.temporal):
            by_track.setdefault(source, []).append(tag)
    spread = np.mean([np.std(tags, axis=0).mean() for tags in by_track.values() if len(tags) > 5])
    means = np.array([np.mean(tags, axis=0) for tags in by_track.values()])
    assert 0.05 < spread < 0.15 and np.std(means, axis=0).mean() > 0.4


def person(x: float, y: float, size: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(int(x * 7 + y))
    kp = np.concatenate([rng.uniform(0, size, (17, 2)) + [x, y], np.ones((17, 1))], 1)
    return kp.astype(np.float32)


def poses_of(*people: np.ndarray, scores: list[float] | None = None) -> Poses:
    n = len(people)
    return Poses(np.stack(people), np.array(scores or [0.9] * n, np.float32), np.zeros((n, 1), np.float32),
                 np.zeros((n, 17, 1), np.float32))


def test_greedy_matches_take_the_best_pairs_first():
    similarity = np.array([[0.9, 0.8], [0.85, 0.1], [0.05, 0.3]])
    assert greedy_matches(similarity, 0.2) == [(0, 0), (2, 1)]
    assert greedy_matches(similarity, 0.95) == []
    assert greedy_matches(np.zeros((0, 3)), 0.2) == []


def test_greedy_baseline_keeps_ids_frame_to_frame_and_forgets_after_a_gap():
    tracker = GreedyOksTracker()
    a, b = person(0, 0), person(500, 0)
    first = tracker.update(poses_of(a, b), 0)
    assert first.ids.tolist() == [1, 2] and first.confirmed.all()
    second = tracker.update(poses_of(b + [2, 0, 0], a + [1, 1, 0]), 1)
    assert second.ids.tolist() == [2, 1] and second.detection_index.tolist() == [0, 1]
    assert second.age.tolist() == [1, 1] and second.hits.tolist() == [2, 2]
    tracker.update(poses_of(a), 2)  # b missed for a frame
    third = tracker.update(poses_of(a, b), 3)
    assert third.ids.tolist() == [1, 3]
    low = tracker.update(poses_of(a, b, scores=[0.9, 0.1]), 4)
    assert low.ids.tolist() == [1] and len(tracker) == 1
