"""Training targets: Gaussian heatmaps, joint indices for the tag loss, ignore masks."""
from __future__ import annotations

import numpy as np
import pytest

from aetrack.data.targets import default_sigma, ignore_mask, joint_indices, render_heatmaps

J = 17


def _person(points: dict[int, tuple[float, float]]) -> np.ndarray:
    """Keypoints (17, 3) with the given joints visible at (x, y), the rest hidden."""
    person = np.zeros((J, 3))
    for j, (x, y) in points.items():
        person[j] = (x, y, 2)
    return person


def _loop_heatmaps(keypoints: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """The reference's target written plainly: one truncated Gaussian per joint, maximum at overlaps."""
    maps = np.zeros((J, size, size), np.float32)
    radius = int(3 * sigma + 1)
    for person in keypoints:
        for j, (x, y, v) in enumerate(person):
            x, y = int(np.floor(x)), int(np.floor(y))
            if v <= 0 or not (0 <= x < size and 0 <= y < size):
                continue
            for yy in range(max(0, y - radius), min(size, y + radius + 1)):
                for xx in range(max(0, x - radius), min(size, x + radius + 1)):
                    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
                    maps[j, yy, xx] = max(maps[j, yy, xx], g)
    return maps


def test_default_sigma_is_map_size_over_64() -> None:
    assert default_sigma((128, 128)) == 2.0
    assert default_sigma((48, 64)) == 1.0


def test_heatmap_peak_is_one_at_the_joint_pixel() -> None:
    maps = render_heatmaps(_person({3: (40.7, 20.2)})[None], (128, 128))
    assert maps.shape == (J, 128, 128) and maps.dtype == np.float32
    assert maps[3, 20, 40] == 1.0
    assert np.unravel_index(maps[3].argmax(), (128, 128)) == (20, 40)
    assert maps[3, 20, 42] == pytest.approx(np.exp(-4 / 8))   # sigma 2 on a 128 map
    assert maps[3, 20, 47] > 0 and maps[3, 20, 48] == 0       # window radius 7 = floor(3 sigma + 1)
    assert np.all(np.delete(maps, 3, axis=0) == 0)


def test_heatmaps_match_plain_reference_rendering() -> None:
    rng = np.random.default_rng(0)
    keypoints = np.concatenate([rng.uniform(-10, 74, (6, J, 2)), rng.integers(0, 3, (6, J, 1))], -1)
    np.testing.assert_allclose(render_heatmaps(keypoints, (64, 64)), _loop_heatmaps(keypoints, 64, 1.0), atol=1e-6)
    np.testing.assert_allclose(render_heatmaps(keypoints, (64, 64), sigma=2.5),
                               _loop_heatmaps(keypoints, 64, 2.5), atol=1e-6)


def test_overlapping_people_take_the_maximum() -> None:
    a, b = _person({0: (10, 10)}), _person({0: (13, 10)})
    both = render_heatmaps(np.stack([a, b]), (32, 32))
    np.testing.assert_array_equal(both, np.maximum(render_heatmaps(a[None], (32, 32)),
                                                   render_heatmaps(b[None], (32, 32))))


def test_hidden_or_off_map_joints_give_no_target() -> None:
    person = _person({1: (5, 5), 2: (-1, 5), 3: (5, 32.0), 4: (np.nan, 3)})
    person[1, 2] = 0  # annotated position but not visible
    maps = render_heatmaps(person[None], (32, 32))
    assert np.all(maps == 0)
    assert render_heatmaps(np.zeros((0, J, 3)), (32, 16)).shape == (J, 32, 16)


def test_joint_indices_flat_index_and_flags() -> None:
    h, w = 24, 32
    people = np.stack([_person({0: (3.9, 2.1), 16: (31.5, 23.9)}), _person({5: (0, 0), 6: (32, 1), 7: (4, -0.5)})])
    people[1, 5, 2] = 0
    joints = joint_indices(people, (h, w), max_people=4)
    assert joints.shape == (4, J, 2) and joints.dtype == np.int64
    assert joints[0, 0].tolist() == [0 * h * w + 2 * w + 3, 1]
    assert joints[0, 16].tolist() == [16 * h * w + 23 * w + 31, 1]
    assert joints[:, :, 1].sum() == 2           # hidden, off-map and missing joints are flagged 0
    assert np.all(joints[joints[..., 1] == 0] == 0)
    assert np.all(joints[2:] == 0)              # unused people slots


def test_joint_indices_point_at_the_heatmap_peak() -> None:
    rng = np.random.default_rng(1)
    people = np.concatenate([rng.uniform(0, 40, (3, J, 2)), np.ones((3, J, 1))], -1)
    maps = render_heatmaps(people[:1], (40, 40))
    joints = joint_indices(people, (40, 40), max_people=2)
    assert joints.shape == (2, J, 2)              # people beyond max_people are dropped
    assert np.all(maps.reshape(-1)[joints[0, :, 0]] == 1.0)


def test_ignore_mask_boxes_polygons_and_regions() -> None:
    h, w = 16, 20
    assert np.all(ignore_mask((h, w)) == 1) and ignore_mask((h, w)).dtype == np.float32
    mask = ignore_mask((h, w), boxes=np.array([[2, 3, 6, 5]]))
    expected = np.ones((h, w), np.float32)
    expected[3:5, 2:6] = 0                       # pixels whose centres lie in the box
    np.testing.assert_array_equal(mask, expected)
    square = np.array([[2, 3], [6, 3], [6, 5], [2, 5]], float)
    np.testing.assert_array_equal(ignore_mask((h, w), polygons=[square]), expected)
    region = np.zeros((h, w), bool)
    region[10:, 15:] = True
    both = ignore_mask((h, w), polygons=[square], regions=[region])
    assert both.sum() == h * w - 8 - 30


def test_ignore_mask_concave_polygon_and_off_map_parts() -> None:
    l_shape = np.array([[0, 0], [4, 0], [4, 2], [2, 2], [2, 4], [0, 4]], float) - 1  # one pixel off the map
    mask = ignore_mask((8, 8), polygons=[l_shape])
    expected = np.ones((8, 8), np.float32)
    expected[:1, :3] = 0
    expected[:3, :1] = 0
    np.testing.assert_array_equal(mask, expected)
