"""aetrack.compat keeps motmetrics 1.4.0 working on NumPy 2 (np.asfarray): a hand-checked run and MOTChallenge data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aetrack  # noqa: F401  (installs the shim, as any use of aetrack does)
import motmetrics as mm

# Ground-truth boxes (x, y, w, h) of two people; hypotheses are placed on them frame by frame.
BOX_1 = [0.0, 0.0, 10.0, 10.0]
BOX_2 = [100.0, 0.0, 10.0, 10.0]
NEAR_1 = [2.0, 0.0, 10.0, 10.0]  # IoU with BOX_1 = 80 / 120 = 2/3, distance 1/3
FAR = [300.0, 0.0, 10.0, 10.0]  # overlaps nobody


def _frames() -> list[tuple[list[int], list[list[float]], list[int], list[list[float]]]]:
    """(object ids, object boxes, hypothesis ids, hypothesis boxes) per frame."""
    return [
        ([1, 2], [BOX_1, BOX_2], [10, 11], [NEAR_1, BOX_2]),  # two matches
        ([1, 2], [BOX_1, BOX_2], [10, 11], [BOX_2, BOX_1]),  # hypotheses swap people: two switches
        ([1, 2], [BOX_1, BOX_2], [11], [BOX_1]),  # person 2 missed
        ([1], [BOX_1], [11, 12], [BOX_1, FAR]),  # hypothesis 12 is a false positive
    ]


def test_asfarray_behaves_as_numpy_1():
    assert np.asfarray([1, 2]).dtype == np.float64
    assert np.asfarray(np.array([1, 2], np.float32), dtype=np.float32).dtype == np.float32
    assert np.asfarray([1, 2], dtype=np.int32).dtype == np.float64  # non-float dtypes fall back to float64


def test_motmetrics_accumulation_matches_hand_computed_values():
    acc = mm.MOTAccumulator(auto_id=True)
    for objects, object_boxes, hypotheses, hypothesis_boxes in _frames():
        # iou_matrix is the motmetrics call that needs np.asfarray
        acc.update(objects, hypotheses, mm.distances.iou_matrix(object_boxes, hypothesis_boxes, max_iou=0.5))
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "motp", "num_switches"], name="hand")
    row = summary.loc["hand"]
    # 7 object instances, 1 miss, 1 false positive, 2 switches: MOTA = 1 - 4/7.
    assert row["num_switches"] == 2
    assert row["mota"] == pytest.approx(3 / 7, abs=1e-12)
    # Best identity pairing: person 1 - hypothesis 11 (3 frames), person 2 - hypothesis 10 (1 frame); IDTP = 4 of
    # 7 ground-truth and 7 hypothesis instances, IDF1 = 2 * 4 / 14.
    assert row["idf1"] == pytest.approx(4 / 7, abs=1e-12)
    # Six matches, one at distance 1/3, the rest at 0.
    assert row["motp"] == pytest.approx(1 / 18, abs=1e-12)


def test_tud_sequences_reproduce_motchallenge_values(shared: Path):
    root = shared / "data" / "mot_tud"
    expected = json.loads((root / "EXPECTED_VALUES.json").read_text())
    names = ["TUD-Campus", "TUD-Stadtmitte"]
    accs = [mm.utils.compare_to_groundtruth(mm.io.loadtxt(root / name / "gt.txt"),
                                            mm.io.loadtxt(root / name / "test.txt"), "iou", distth=0.5)
            for name in names]
    summary = mm.metrics.create().compute_many(accs, metrics=expected["columns"], names=names,
                                               generate_overall=True)
    for name in [*names, "OVERALL"]:
        got = summary.loc[name, expected["columns"]].to_numpy(np.float64)
        # the file gives six decimals: agreement to rounding
        np.testing.assert_allclose(got, expected[name], rtol=0, atol=1e-6, err_msg=name)
