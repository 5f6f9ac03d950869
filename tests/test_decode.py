"""Decoder: parity with the reference's and mmpose's recorded people, and properties on synthetic maps."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from aetrack.config import InferenceConfig
from aetrack.decode import decode, decode_batch, parse_mmpose, parse_reference, tags_at, temporal_tags
from aetrack.decode.assignment import munkres_assignment
from aetrack.decode.candidates import Candidates, find_candidates, nms_keep, nms_keep_torch, sparse_flatnonzero
from aetrack.decode.grouping import GroupingParams, _People, group
from aetrack.decode.refine import best_pixels, numpy_mean, person_tags
from aetrack.errors import AetrackError

SHARED = Path(os.environ.get("AETRACK_SHARED", Path(__file__).parents[1] / ".." / "shared"))
FIXTURES = SHARED / "fixtures"
J = 17


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"reference fixture {path} not present (set AETRACK_SHARED to the shared folder)")
    return path


def _same_people(a: np.ndarray, b: np.ndarray, tol: float = 1e-4) -> bool:
    """Equal as sets of people (any order), values within tol."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) != len(b):
        return False
    if len(a) == 0:
        return True
    if a.shape != b.shape:
        return False
    used: set[int] = set()
    for p in a:
        hit = next((i for i in range(len(b)) if i not in used and np.abs(b[i] - p).max() <= tol), None)
        if hit is None:
            return False
        used.add(hit)
    return True


def _reference_cases() -> list[int]:
    meta = FIXTURES / "pose_ae_reference" / "parser_cases.json"
    if not meta.exists():
        return [0]  # one placeholder id: the test skips with the reason
    return [c["case"] for c in json.loads(meta.read_text())["cases"]]


@pytest.mark.parametrize("case", _reference_cases())
def test_reference_parity(case: int) -> None:
    data = np.load(_fixture("pose_ae_reference/parser_cases.npz"))
    det, tag = data[f"case{case}_det"], data[f"case{case}_tag"]
    grouped, scores = parse_reference(det, tag, refine=False)
    refined, scores_refined = parse_reference(det, tag, refine=True)
    assert _same_people(grouped, data[f"case{case}_grouped"])
    assert _same_people(refined, data[f"case{case}_refined"])
    expected = np.sort(data[f"case{case}_scores"])
    assert np.allclose(np.sort(scores), expected, atol=1e-4)
    assert np.allclose(np.sort(scores_refined), expected, atol=1e-4)


@pytest.mark.parametrize("case", _reference_cases())
def test_mmpose_parity(case: int) -> None:
    data = np.load(_fixture("pose_ae_reference/parser_cases.npz"))
    got = np.load(_fixture("mmpose_ae_reference/parser_cases_mmpose.npz"))
    for adjust, refine in [(0, 0), (1, 0), (1, 1)]:
        key = f"case{case}_adjust{adjust}_refine{refine}"
        people, scores = parse_mmpose(data[f"case{case}_det"], data[f"case{case}_tag"], bool(adjust), bool(refine))
        assert _same_people(people, got[key + "_people"]), key
        assert np.allclose(np.sort(scores), np.sort(got[key + "_scores"]), atol=1e-4), key


# ---------------------------------------------------------------------------------------------------------------
# synthetic maps


def synthetic(people: int, size: int = 64, dim: int = 1, seed: int = 0, temporal: int = 0,
              sigma: float = 1.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """People on a grid, one gaussian per joint, a constant tag per person (dims 2 apart) around each joint.

    Returns det (J, S, S), tags (J, S, S, dim), temporal (J, S, S, temporal), true pixels (P, J, 2) x, y and
    the people's tags (P, dim).
    """
    rng = np.random.default_rng(seed)
    det = np.zeros((J, size, size), np.float32)
    tag = np.zeros((J, size, size, dim), np.float32)
    tmp = np.zeros((J, size, size, temporal), np.float32)
    yy, xx = np.mgrid[:size, :size]
    grid = int(np.ceil(np.sqrt(people)))
    cell = size / grid
    truth = np.zeros((people, J, 2), np.int64)
    person_tag = np.stack([np.arange(people) * 2.0 + 1.5 * k for k in range(dim)], 1).astype(np.float32)
    person_tmp = rng.normal(size=(people, temporal)).astype(np.float32)
    for p in range(people):
        cx, cy = (p % grid + 0.5) * cell, (p // grid + 0.5) * cell
        for j in range(J):
            x = int(cx + rng.uniform(-cell / 4, cell / 4))
            y = int(cy + rng.uniform(-cell / 4, cell / 4))
            truth[p, j] = x, y
            blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)).astype(np.float32)
            det[j] = np.maximum(det[j], blob * rng.uniform(0.6, 0.95))
            near = blob > 0.05
            tag[j][near] = person_tag[p]
            tmp[j][near] = person_tmp[p]
    return det, tag, tmp, truth, person_tag


def _match_truth(keypoints: np.ndarray, truth: np.ndarray) -> list[int]:
    """Index of the true person each decoded person equals pixel for pixel on its found joints (-1 when none)."""
    pix = np.floor(keypoints[..., :2]).astype(np.int64)
    found = keypoints[..., 2] > 0
    return [next((t for t in range(len(truth)) if np.array_equal(pix[i][found[i]], truth[t][found[i]])), -1)
            for i in range(len(pix))]


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_separated_people_are_recovered_exactly(dim: int) -> None:
    det, tag, tmp, truth, person_tag = synthetic(9, dim=dim, temporal=2, seed=dim)
    poses = decode(det, tag, InferenceConfig(), temporal=tmp)
    assert len(poses) == 9
    who = _match_truth(poses.keypoints, truth)
    assert sorted(who) == list(range(9))
    assert (poses.keypoints[..., 2] > 0.5).all()
    assert np.allclose(poses.tags, person_tag[who])
    assert np.allclose(poses.joint_tags, person_tag[who][:, None, :].repeat(J, 1))
    assert poses.temporal.shape == (9, 2)
    people, _ = parse_reference(det, tag)
    assert sorted(_match_truth(people, truth)) == list(range(9))


def test_people_told_apart_by_second_tag_dimension_only() -> None:
    det, tag, _, truth, _ = synthetic(4, dim=2, seed=3)
    for p in range(4):  # same first component for everyone; the second one differs by 2
        near = np.zeros_like(det, bool)
        for j in range(J):
            x, y = truth[p, j]
            near[j, max(y - 3, 0):y + 4, max(x - 3, 0):x + 4] = True
        tag[..., 0][near] = 5.0
        tag[..., 1][near] = 2.0 * p
    poses = decode(det, tag, InferenceConfig(refine=False))
    assert sorted(_match_truth(poses.keypoints, truth)) == list(range(4))
    assert np.allclose(np.sort(poses.tags[:, 1]), [0, 2, 4, 6])
    people, _ = parse_reference(det, tag)
    assert len(people) == 1  # the reference keys people by the first component: they all collide


@pytest.mark.parametrize("shape", [(3, 12, 15), (2, 1, 1), (2, 1, 6), (2, 5, 1), (4, 2, 3), (1, 4, 4)])
def test_nms_keeps_exactly_the_local_maxima(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    det = np.round(rng.random(shape) * 8).astype(np.float32)  # coarse values: plateaus and ties
    for kernel in (1, 3, 5):
        r = kernel // 2
        padded = np.pad(det, ((0, 0), (r, r), (r, r)), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(1, 2))
        expected = det == windows.max(axis=(-1, -2))
        assert np.array_equal(nms_keep(det, kernel), expected)
        assert np.array_equal(nms_keep_torch(torch.from_numpy(det), kernel).numpy(), expected)


@pytest.mark.parametrize("shape", [(J, 24, 20), (3, 9, 1), (3, 9, 2), (2, 1, 9), (4, 6, 5)])
@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("above", [0.01, 0.5])  # few pixels above the threshold, or many: two code paths
def test_candidates_are_the_maxima_above_threshold(above: float, kernel: int, shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(1)
    det = np.round(rng.random(shape) * 64).astype(np.float32) / 64  # plateaus and ties
    det[det < 1 - above] = 0
    tag = rng.normal(0, 1, (*shape, 1)).astype(np.float32)
    cand = find_candidates(det, tag, k=1000, threshold=0.1, kernel=kernel)
    expected = np.flatnonzero(nms_keep(det, kernel) & (det > 0.1))
    got = np.sort(np.repeat(np.arange(shape[0]), np.diff(cand.starts)) * (shape[1] * shape[2]) + cand.flat)
    assert np.array_equal(got, expected)


def test_sparse_flatnonzero_equals_flatnonzero() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 9, 64, 1001):
        for density in (0.0, 0.01, 0.5, 1.0):
            mask = rng.random(n) < density
            assert np.array_equal(sparse_flatnonzero(mask), np.flatnonzero(mask))
    mask = rng.random((5, 13)) < 0.1
    assert np.array_equal(sparse_flatnonzero(mask), np.flatnonzero(mask))


def test_candidates_are_top_k_maxima_above_threshold() -> None:
    det, tag, _, _, _ = synthetic(6, seed=1)
    cand = find_candidates(det, tag, k=4, threshold=0.1)
    for j in range(J):
        rows = cand.joint(j)
        val = cand.val[rows]
        assert len(val) == 4 and (np.diff(val) <= 0).all()
        peaks = np.sort(det[j][nms_keep(det, 3)[j]])[::-1]
        assert np.allclose(val, peaks[:4])
        x, y = cand.xy[rows].astype(int).T
        assert np.allclose(det[j, y, x], val)


def test_quarter_step_moves_toward_the_higher_neighbour() -> None:
    det = np.zeros((J, 9, 9), np.float32)
    tag = np.zeros((J, 9, 9, 1), np.float32)
    det[:, 4, 4] = 1.0
    det[:, 4, 5], det[:, 4, 3] = 0.6, 0.3     # right higher: x + 0.25
    det[:, 3, 4], det[:, 5, 4] = 0.6, 0.3     # up higher: y - 0.25
    people, _ = parse_reference(det, tag)
    assert len(people) == 1
    assert np.allclose(people[0, :, 0], 4 + 0.5 + 0.25)
    assert np.allclose(people[0, :, 1], 4 + 0.5 - 0.25)
    det[:, 3, 4] = det[:, 5, 4] = 0.3         # equal neighbours: -0.25
    people, _ = parse_reference(det, tag)
    assert np.allclose(people[0, :, 1], 4 + 0.5 - 0.25)
    det[:, 5, 4] = 0.6
    poses = decode(det, tag, InferenceConfig())
    assert np.allclose(poses.keypoints[0, :, :2], [4.75, 4.75])


def test_without_adjust_joints_sit_at_pixel_centres() -> None:
    det, tag, _, truth, _ = synthetic(4, seed=5)
    poses = decode(det, tag, InferenceConfig(adjust=False, refine=False))
    who = _match_truth(poses.keypoints, truth)
    assert np.allclose(poses.keypoints[..., :2], truth[who] + 0.5)


def test_batched_decode_equals_per_image_decode() -> None:
    frames = [synthetic(n, size=48, dim=2, seed=s, temporal=3) for n, s in [(5, 0), (9, 1), (1, 2)]]
    for j in range(3):  # hide a joint so that refinement has work to do
        frames[j][0][j] *= 0.05
    config = InferenceConfig(max_people=12)
    det = np.stack([f[0] for f in frames])
    tag = np.stack([f[1] for f in frames])
    tmp = np.stack([f[2] for f in frames])
    batch = decode_batch(torch.from_numpy(det), torch.from_numpy(tag), config, temporal=torch.from_numpy(tmp))
    for got, f in zip(batch, frames):
        single = decode(f[0], f[1], config, temporal=f[2])
        assert len(got) == len(single) > 0
        for field in ("keypoints", "scores", "tags", "joint_tags", "temporal"):
            assert np.allclose(getattr(got, field), getattr(single, field)), field


def test_device_refinement_equals_numpy_refinement() -> None:
    from aetrack.decode.decoder import _fill_missing_torch
    from aetrack.decode.refine import fill_missing

    frames = [synthetic(n, size=32, dim=2, seed=s) for n, s in [(4, 0), (2, 1)]]
    people = []
    for f in frames:
        p, _ = parse_reference(f[0], f[1])
        p[:, ::3, 2] = 0   # drop every third joint so that there is something to fill
        people.append(p)
    expected = [fill_missing(p.copy(), f[0], f[1], score_one=False, fill_tags=True) for p, f in zip(people, frames)]
    got = [p.copy() for p in people]
    _fill_missing_torch(got, torch.from_numpy(np.stack([f[0] for f in frames])),
                        torch.from_numpy(np.stack([f[1] for f in frames])), quarter=True)
    for g, e in zip(got, expected):
        assert (e[:, ::3, 2] > 0).any()
        assert np.allclose(g, e)


def test_refinement_fills_a_hidden_joint_with_its_heatmap_value() -> None:
    det, tag, _, truth, _ = synthetic(3, seed=7)
    x, y = truth[1, 9]
    det[9, y - 3:y + 4, x - 3:x + 4] *= 0.1    # below the detection threshold: grouping misses it
    det[9, y, x + 1] = det[9, y, x - 1] + 1e-3  # right neighbour higher
    plain = decode(det, tag, InferenceConfig(refine=False))
    filled = decode(det, tag, InferenceConfig(refine=True))
    assert plain.keypoints[_match_truth(plain.keypoints, truth).index(1), 9, 2] == 0
    p = _match_truth(filled.keypoints, truth).index(1)
    assert filled.keypoints[p, 9, 2] == pytest.approx(det[9, y, x])
    assert filled.keypoints[p, 9, :2] == pytest.approx([x + 0.75, y + 0.25])
    assert filled.joint_tags[p, 9] == pytest.approx(tag[9, y, x])
    reference, _ = parse_reference(det, tag, refine=True)
    assert reference[:, 9, 2].max() == 1.0   # the reference scores filled joints 1


def test_reference_merges_people_with_equal_tags_and_we_do_not() -> None:
    det, tag, _, truth, _ = synthetic(2, seed=2)
    tag[:] = 3.0                 # both people share the exact same tag value
    reference, _ = parse_reference(det, tag)
    assert len(reference) == 1   # the dict key collision: the second person overwrites the first
    assert len(decode(det, tag, InferenceConfig(tag_threshold=1.0, refine=False))) == 2


def test_reference_stops_at_thirty_people() -> None:
    det, tag, _, _, _ = synthetic(31, size=96, seed=4, sigma=1.0)
    reference, _ = parse_reference(det, tag)
    assert len(reference) == 30
    assert ((reference[:, :, 2] > 0).sum(axis=1) == 1).all()  # every later joint was skipped
    ours = decode(det, tag, InferenceConfig(max_people=40, refine=False))
    assert len(ours) == 31 and (ours.keypoints[..., 2] > 0).all()


def test_munkres_assignment_is_optimal_with_the_reference_tie_breaking() -> None:
    # the reference's munkres (C path) on a tie-heavy matrix; scipy returns another optimum
    cost = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], float)
    assert munkres_assignment(cost).tolist() == [1, 0, 3, 2]
    assert munkres_assignment(np.array([[1.0, 1, 0], [2, 2, 0]])).tolist() == [0, 2]  # its Python path
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = rng.integers(1, 9, 2)
        n, m = min(n, m), max(n, m)
        c = rng.integers(0, 3, (n, m)) * 100 - rng.integers(0, 4, (n, 1)) / 8
        col = munkres_assignment(c)
        assert len(set(col.tolist())) == n
        rows, cols = linear_sum_assignment(c)
        assert c[np.arange(n), col].sum() == pytest.approx(c[rows, cols].sum())


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_best_pixels_equals_argmax_of_the_whole_map(dim: int) -> None:
    rng = np.random.default_rng(dim)
    det = (np.round(rng.random((J, 20, 24)) * 64) / 64).astype(np.float32)   # many equal values
    tag = (np.round(rng.normal(0, 3, (J, 20, 24, dim)) * 8) / 8).astype(np.float32)
    joint = rng.integers(0, J, 300)
    prev = (rng.normal(0, 4, (300, dim))).astype(np.float32)
    prev[::7] = 40.0   # far from every tag: the answer is on a higher rounding level
    got = best_pixels(det, tag, joint, prev)
    dist = np.sqrt(((tag[joint] - prev[:, None, None, :]) ** 2).sum(-1))
    expected = np.argmax((det[joint] - np.round(dist)).reshape(300, -1), axis=1)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("dim", [2, 3])
def test_best_pixels_near_tag_filter_equals_argmax_of_the_whole_map(dim: int) -> None:
    """The near-tag filter (tags of two or more dimensions) where its bound must hold exactly: distances on
    rounding boundaries (tags on a 1/8 grid, means on a 1/4 grid), heatmaps spanning several units (pixels several
    rounding levels away can win), -inf heatmap values, a nan tag, and mean tags too large for the bound."""
    rng = np.random.default_rng(dim)
    for i in range(24):
        det = (np.round(rng.random((J, 16, 24)) * 16) / 16 * rng.choice([1, 3, 10])).astype(np.float32)
        det[rng.random(det.shape) < 0.01] = -np.inf
        tag = (np.round(rng.normal(0, 3, (J, 16, 24, dim)) * 8) / 8).astype(np.float32)
        if i % 4 == 0:
            tag[rng.integers(J), 3, 5, rng.integers(dim)] = np.nan
        joint = rng.integers(0, J, 200)
        prev = np.round(rng.normal(0, 3, (200, dim)) * 4) / 4
        prev[::7] = 40.0
        prev[::13] *= 1e13
        prev = prev.astype(np.float32)
        assert np.array_equal(best_pixels(det, tag, joint, prev), _argmax_of_whole_maps(det, tag, joint, prev))


def _argmax_of_whole_maps(det: np.ndarray, tag: np.ndarray, joint: np.ndarray, prev: np.ndarray) -> np.ndarray:
    diff = tag[joint] - prev[:, None, None, :]
    dist = np.sqrt(np.add.reduce(diff * diff, axis=-1))
    with np.errstate(invalid="ignore"):
        return np.argmax((det[joint] - np.round(dist)).reshape(len(joint), -1), axis=1)


@pytest.mark.parametrize("seed", range(4))
def test_best_pixels_exact_on_odd_maps(seed: int) -> None:
    """Its shortcuts (a joint's highest pixels, pixels with near tags, whole-map scans) agree with the argmax of
    the whole map: many queries per joint, tags far apart or beyond float32 bins, inf / nan, tiny maps."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        joints = int(rng.choice([1, 3, 16, 17, 32]))
        h, w = int(rng.choice([1, 2, 16, 64])), int(rng.choice([1, 3, 16, 64]))
        dim = int(rng.choice([1, 2, 3]))
        scale = float(rng.choice([1, 3, 50, 1e4, 1e9]))
        det = (np.round(rng.random((joints, h, w)) * 16) / 16).astype(np.float32)   # many equal values
        if rng.random() < 0.3:
            det = det * 3 - 1
        tag = (np.round(rng.normal(0, scale, (joints, h, w, dim)) * 8) / 8).astype(np.float32)
        if rng.random() < 0.2:
            tag[rng.integers(joints), 0, 0, 0] = rng.choice([np.inf, -np.inf, np.nan])
        q = int(rng.integers(1, 400))
        joint = rng.integers(0, joints, q)
        prev = tag[joint, rng.integers(0, h, q), rng.integers(0, w, q)] + rng.normal(0, scale / 10, (q, dim))
        prev[::4] = rng.normal(0, 3 * scale, (len(prev[::4]), dim))   # far from most tags
        prev = np.where(np.isfinite(prev), prev, 0).astype(np.float32)
        assert np.array_equal(best_pixels(det, tag, joint, prev), _argmax_of_whole_maps(det, tag, joint, prev))


def _random_candidates(rng: np.random.Generator, dim: int, people: int) -> Candidates:
    """Candidates of joints with 0 to people + 3 candidates each (some below the detection threshold), tags near
    random people's (a wide spread: some too far to match), all first tag values distinct."""
    per_joint = rng.integers(0, people + 4, J)
    starts = np.concatenate(([0], np.cumsum(per_joint)))
    n = int(starts[-1])
    centers = rng.uniform(-6, 6, (people, dim))
    tags = (centers[rng.integers(0, people, n)] + rng.normal(0, rng.choice([0.05, 0.6]), (n, dim)))
    val = np.concatenate([np.sort(rng.uniform(0.05, 1, c))[::-1] for c in per_joint])
    xy = rng.integers(0, 64, (n, 2)).astype(np.float32)
    return Candidates(xy, val.astype(np.float32), tags.astype(np.float32), (xy[:, 1] * 64 + xy[:, 0]).astype(np.int64),
                      starts.astype(np.int64))


@pytest.mark.parametrize("dim", [2, 3])
def test_grouping_a_joint_at_once_equals_one_candidate_at_a_time(dim: int) -> None:
    """People keyed by index with D > 1 take each joint at once, in numpy; people keyed by first tag value go
    candidate by candidate. With distinct first tag values the keys never collide: the same people, bit for bit."""
    rng = np.random.default_rng(dim)
    settings = [GroupingParams(keys="index", solver="scipy", match_first_only=False),
                GroupingParams(keys="index"), GroupingParams(keys="index", distance="l2", tag_threshold=2.0),
                GroupingParams(keys="index", max_people=4, ignore_too_much=True),
                GroupingParams(keys="index", solver="scipy", use_detection_value=False, max_people=6)]
    for _ in range(30):
        cand = _random_candidates(rng, dim, int(rng.integers(1, 12)))
        assert len(np.unique(cand.tags[:, 0])) == len(cand.tags)
        for params in settings:
            at_once = group(cand, params, J)
            assert np.array_equal(at_once, group(cand, replace(params, keys="first_tag"), J))


@pytest.mark.parametrize("dim", [1, 2])
def test_tag_means_equal_numpy_mean_bit_for_bit(dim: int) -> None:
    rng = np.random.default_rng(dim)
    values = (rng.normal(0, 5, (200, J, dim))).astype(np.float32)
    counts = rng.integers(1, J + 1, 200)
    for p in range(200):
        values[p, counts[p]:] = 0
    expected = np.stack([np.mean(list(values[p, :counts[p]]), axis=0) for p in range(200)])
    assert np.array_equal(numpy_mean(values, counts), expected)
    for p in range(20):  # the grouping's running version, one tag at a time
        people = _People(1, J, dim)
        people.start(0, 0, values[p, 0].tolist())
        for i in range(1, J):
            people.add(0, i, i, values[p, i].tolist())
            assert np.array_equal(people.means(1)[0], np.mean(list(values[p, :i + 1]), axis=0))


def test_tags_at_keypoints() -> None:
    maps = np.arange(J * 4 * 5 * 2, dtype=np.float32).reshape(J, 4, 5, 2)
    keypoints = np.zeros((2, J, 3), np.float32)
    keypoints[0, 3] = [2.7, 1.2, 0.9]
    keypoints[1, 5] = [4.5, 3.9, 0.5]
    values = tags_at(maps, keypoints)
    assert np.array_equal(values[0, 3], maps[3, 1, 2]) and np.array_equal(values[1, 5], maps[5, 3, 4])
    assert not values[0, :3].any()
    assert np.array_equal(temporal_tags(maps, keypoints), np.stack([maps[3, 1, 2], maps[5, 3, 4]]))


def test_person_tags_read_at_joint_pixels() -> None:
    tag = np.zeros((J, 6, 6, 1), np.float32)
    tag[0, 2, 3] = 4.0
    tag[1, 5, 5] = 2.0
    people = np.zeros((1, J, 4), np.float32)
    people[0, 0, :3] = [3.75, 2.25, 0.8]
    people[0, 1, :3] = [5.25, 5.75, 0.5]
    assert person_tags(people, tag)[0, 0] == pytest.approx(3.0)


def test_bad_shapes_are_user_errors() -> None:
    with pytest.raises(AetrackError):
        decode(np.zeros((J, 8, 8), np.float32), np.zeros((J, 8, 9, 1), np.float32), InferenceConfig())
    with pytest.raises(AetrackError):
        decode_batch(np.zeros((J, 8, 8), np.float32), np.zeros((J, 8, 8, 1), np.float32), InferenceConfig())


def test_empty_maps_give_no_people() -> None:
    det = np.zeros((J, 16, 16), np.float32)
    tag = np.zeros((J, 16, 16, 2), np.float32)
    assert len(decode(det, tag, InferenceConfig())) == 0
    people, scores = parse_reference(det, tag, refine=True)
    assert people.shape == (0, J, 5) and scores.shape == (0,)
    assert [len(p) for p in decode_batch(det[None], tag[None], InferenceConfig())] == [0]


def test_quadratic_subpixel_recovers_gaussian_centres_better_than_the_quarter_step():
    from aetrack.config import InferenceConfig
    from aetrack.decode import decode

    rng = np.random.default_rng(7)
    h = w = 48
    yy, xx = np.mgrid[0:h, 0:w]
    det = np.zeros((17, h, w), np.float32)
    centres = rng.uniform(8, 40, size=(17, 2))  # pixel-edge coordinates: pixel i spans [i, i + 1)
    for j, (cx, cy) in enumerate(centres):
        det[j] = np.exp(-((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) / (2 * 1.5 ** 2))
    tag = np.zeros((17, h, w, 1), np.float32)
    errors = {}
    for mode in ("quarter", "quadratic"):
        poses = decode(det, tag, InferenceConfig(subpixel=mode, refine=False))
        assert len(poses) == 1
        errors[mode] = np.abs(poses.keypoints[0, :, :2] - centres).max()
    assert errors["quadratic"] < 0.02 < errors["quarter"] <= 0.5
