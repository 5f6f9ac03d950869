"""PoseTrack evaluation: poseval's numbers on the reference cases, its quirks on tiny hand-made videos, the 2017 and
2018 layouts, person-level identity metrics, and bad inputs."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from aetrack.cli.main import main
from aetrack.errors import AetrackError
from aetrack.eval.posetrack import average_precision, evaluate_posetrack, format_table, result_to_dict
from aetrack.eval.posetrack_io import MIN_SCORE, POSETRACK18_KEYPOINTS, POSETRACK_JOINTS, points_in_polygon

SHARED = Path(os.environ.get("AETRACK_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REFERENCE = SHARED / "fixtures" / "poseval_reference"
EXPECTED = json.loads((REFERENCE / "expected.json").read_text()) if (REFERENCE / "expected.json").is_file() else None
CASES = {c["case"]["name"]: c for c in EXPECTED["cases"]} if EXPECTED else {}
needs_reference = pytest.mark.skipif(not CASES, reason=f"poseval reference {REFERENCE}/expected.json not found "
                                                        "(set AETRACK_SHARED to the shared folder)")

# 15 PoseTrack joints (poseval's order) as (x, y) offsets in pixels from a person's position, about 60 x 190 pixels.
TEMPLATE = np.array([[-10, 180], [-10, 140], [-10, 100], [10, 100], [10, 140], [10, 180],
                     [-30, 90], [-25, 60], [-20, 30], [20, 30], [25, 60], [30, 90],
                     [0, 25], [0, 10], [0, -10]], np.float64)
HEAD = np.array([-12, -15, 12, 25], np.float64)  # head box x1, y1, x2, y2 offsets: head size 0.6 x 46.6 = 28 px
NOSE = POSETRACK_JOINTS.index("nose")


def person(track: int, x: float, y: float, *, offset: float = 0.0, missing: tuple[int, ...] = (),
           score: float = 0.9) -> dict:
    """One person: joints (15, 2) moved right by `offset` pixels, the joints in `missing` left out."""
    present = np.ones(15, bool)
    present[list(missing)] = False
    return {"track": track, "joints": TEMPLATE + (x + offset, y), "present": present,
            "head": HEAD + (x, y, x, y), "scores": np.full(15, score)}


def walk(frames: int = 6, **kwargs) -> list[list[dict]]:
    """Two people walking towards each other, far enough apart never to be confused (tracks 1 and 2)."""
    return [[person(1, 100 + 5 * t, 100, **kwargs), person(2, 400 - 5 * t, 120, **kwargs)] for t in range(frames)]


def write_2017(path: Path, frames: list[list[dict]], ignore: dict[int, list] | None = None) -> None:
    """One video in the PoseTrack 2017 `annolist` layout (values wrapped in one-element lists)."""
    annolist = []
    for t, people in enumerate(frames):
        rects = []
        for p in people:
            points = [{"id": [int(j)], "x": [float(p["joints"][j, 0])], "y": [float(p["joints"][j, 1])],
                       "score": [float(p["scores"][j])]} for j in np.flatnonzero(p["present"])]
            x1, y1, x2, y2 = p["head"].tolist()
            rects.append({"track_id": [p["track"]], "x1": [x1], "y1": [y1], "x2": [x2], "y2": [y2],
                          "annopoints": [{"point": points}]})
        frame = {"image": [{"name": f"videos/v/{t + 1:05d}.jpg"}], "imgnum": [t + 1], "annorect": rects}
        if ignore and t in ignore:
            frame["ignore_regions"] = [{"point": [{"x": [x], "y": [y]} for x, y in poly]} for poly in ignore[t]]
        annolist.append(frame)
    path.write_text(json.dumps({"annolist": annolist}))


def write_2018(path: Path, frames: list[list[dict]], ignore: dict[int, list] | None = None,
               names: tuple[str, ...] = POSETRACK18_KEYPOINTS) -> None:
    """The same video in the PoseTrack 2018 layout, keypoints in the order of `names`; absent ones (0, 0, 0)."""
    joint_of = {n: POSETRACK_JOINTS.index("neck" if n == "head_bottom" else n) for n in names
                if n in POSETRACK_JOINTS or n == "head_bottom"}
    images, annotations = [], []
    for t, people in enumerate(frames):
        image = {"id": 1000 + t, "file_name": f"images/v/{t:06d}.jpg", "frame_id": 1000 + t}
        if ignore and t in ignore:
            image["ignore_regions_x"] = [[x for x, _ in poly] for poly in ignore[t]]
            image["ignore_regions_y"] = [[y for _, y in poly] for poly in ignore[t]]
        images.append(image)
        for p in people:
            keypoints, scores = [], []
            for n in names:
                j = joint_of.get(n)
                if j is None or not p["present"][j]:
                    keypoints += [0, 0, 0]
                    scores.append(0.0)
                else:
                    keypoints += [float(p["joints"][j, 0]), float(p["joints"][j, 1]), 1]
                    scores.append(float(p["scores"][j]))
            x1, y1, x2, y2 = p["head"].tolist()
            annotations.append({"image_id": 1000 + t, "track_id": p["track"], "keypoints": keypoints,
                                "scores": scores, "bbox_head": [x1, y1, x2 - x1, y2 - y1], "category_id": 1})
    categories = [{"id": 1, "name": "person", "keypoints": list(names)}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))


def evaluate(tmp_path: Path, gt: list[list[dict]], pred: list[list[dict]], writer=write_2017, **kwargs):
    """Write one video of ground truth and predictions, evaluate them."""
    (tmp_path / "gt").mkdir(parents=True)
    (tmp_path / "pred").mkdir()
    writer(tmp_path / "gt" / "v.json", gt, **kwargs)
    writer(tmp_path / "pred" / "v.json", pred)
    return evaluate_posetrack(tmp_path / "gt", tmp_path / "pred")


# --- poseval's own numbers -----------------------------------------------------------------------------------

@needs_reference
@pytest.mark.parametrize("name", sorted(CASES) or ["none"])
def test_reference_case_equals_poseval(name: str):
    case = CASES[name]
    result = evaluate_posetrack(REFERENCE / "_gt", REFERENCE / case["pred_dir"])
    ap, mot = case["poseval_total_AP_metrics"], case["poseval_total_MOT_metrics"]
    ours = {("ap", "ap"): "ap", ("ap", "pre"): "ap_precision", ("ap", "rec"): "ap_recall",
            ("mot", "mota"): "mota", ("mot", "motp"): "motp", ("mot", "pre"): "precision", ("mot", "rec"): "recall"}
    for (table, key), metric in ours.items():
        expected = np.array((ap if table == "ap" else mot)[key], np.float64)
        got = np.append(getattr(result, metric), result.total(metric))
        np.testing.assert_allclose(got, expected, atol=1e-6, equal_nan=True, err_msg=f"{name}: {table} {key}")
    # poseval's printed rows: AP per group; MOTA per group, then total MOTP, precision, recall
    printed = [re.findall(r"-?\d+\.\d|nan", row) for row in case["poseval_printed_tables"] if "Head" not in row
               and "MOTA" not in row]
    assert printed[0] == [f"{v:.1f}" for v in result.groups("ap").values()]
    assert printed[1] == ([f"{v:.1f}" for v in result.groups("mota").values()]
                          + [f"{result.total(m):.1f}" for m in ("motp", "precision", "recall")])


@needs_reference
def test_cli_json_reports_poseval_totals_in_percent(capsys):
    case = CASES["mixed"]
    code = main(["eval", "track", "--gt", str(REFERENCE / "_gt"), "--pred", str(REFERENCE / case["pred_dir"]),
                 "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["mAP"] == pytest.approx(case["poseval_total_AP_metrics"]["ap"][-1], abs=1e-6)
    mot = case["poseval_total_MOT_metrics"]
    for key, values in (("MOTA", mot["mota"]), ("MOTP", mot["motp"]), ("precision", mot["pre"]),
                        ("recall", mot["rec"])):
        assert out[key] == pytest.approx(values[-1], abs=1e-6)
    assert out["num_switches"] > 0 and 0 < out["IDF1"] < 100 and out["units"] == "percent"
    assert set(out["per_joint"]) == set(POSETRACK_JOINTS)
    assert out["per_joint"]["nose"]["AP"] == 0.0 and out["per_joint"]["nose"]["MOTA"] == -100.0
    assert set(out["groups"]) == {"Head", "Shou", "Elb", "Wri", "Hip", "Knee", "Ankl", "Total"}


# --- tiny hand-made videos -----------------------------------------------------------------------------------

def test_perfect_predictions_score_100(tmp_path):
    result = evaluate(tmp_path, walk(), walk())
    out = result_to_dict(result)
    assert out["mAP"] == pytest.approx(100) and out["MOTA"] == pytest.approx(100)
    assert out["MOTP"] == pytest.approx(100) and out["precision"] == out["recall"] == pytest.approx(100)
    assert out["num_switches"] == 0 and out["person"]["num_switches"] == 0
    assert out["IDF1"] == pytest.approx(100)
    assert "Total" in format_table(result)


def test_swapping_two_tracks_mid_video_gives_switches_and_lowers_idf1(tmp_path):
    pred = walk()
    for people in pred[3:]:
        people[0]["track"], people[1]["track"] = 2, 1
    result = evaluate(tmp_path, walk(), pred)
    out = result_to_dict(result)
    assert out["mAP"] == pytest.approx(100)  # the poses are still perfect
    assert out["num_switches"] == 2 * 15  # both people, every joint, once
    assert out["person"]["num_switches"] == 2
    assert out["MOTA"] < 100 and out["IDF1"] < 100


def test_2017_and_2018_layouts_give_the_same_numbers(tmp_path):
    rng = np.random.default_rng(0)
    gt = walk(8)
    pred = walk(8)
    for t, people in enumerate(pred):
        for p in people:
            p["joints"] = p["joints"] + rng.normal(0, 8, (15, 2))
            p["scores"] = rng.uniform(0.2, 1.0, 15)
            p["present"][rng.random(15) < 0.2] = False
        if t == 5:
            people.append(person(9, 250, 300, score=0.1))  # a false positive
    pred[2] = []  # a frame without predictions
    ignore = {4: [[(60, 150), (160, 150), (160, 400), (60, 400)]]}  # hides the legs of person 1 in frame 4
    old = evaluate(tmp_path / "old", gt, pred, writer=write_2017, ignore=ignore)
    # keypoint names in another order: they, not positions, say which joint is which
    names = POSETRACK18_KEYPOINTS[::-1]
    (tmp_path / "new" / "gt").mkdir(parents=True)
    (tmp_path / "new" / "pred").mkdir()
    write_2018(tmp_path / "new" / "gt" / "v.json", gt, ignore=ignore)
    write_2018(tmp_path / "new" / "pred" / "v.json", pred, names=names)
    new = evaluate_posetrack(tmp_path / "new" / "gt", tmp_path / "new" / "pred")
    assert result_to_dict(old) == result_to_dict(new)
    assert 0 < result_to_dict(old)["mAP"] < 100


def test_ignore_regions_remove_joints_from_both_sides(tmp_path):
    pred = walk(3)
    pred[1][0]["joints"][:6] += (0, 40)  # person 1's legs 40 pixels (1.4 head sizes) too low in frame 1 ...
    legs = {1: [[(60, 150), (160, 150), (160, 400), (60, 400)]]}  # ... where they are ignored
    assert evaluate(tmp_path / "a", walk(3), pred, ignore=legs).total("ap") == pytest.approx(100)
    assert evaluate(tmp_path / "b", walk(3), pred).total("ap") < 100


def test_poseval_quirk_frame_without_predictions_counts_a_miss_and_a_false_positive(tmp_path):
    gt = [[person(1, 100, 100)] for _ in range(3)]
    pred = [[], [person(1, 100, 100)], [person(1, 100, 100)]]
    result = evaluate(tmp_path, gt, pred)
    # frames 0 and 1 count (poseval leaves the last out); frame 0 is a made-up miss and false positive per joint
    assert result.counts["num_misses"].tolist() == [1] * 15
    assert result.counts["num_false_positives"].tolist() == [1] * 15
    assert result.total("mota") == pytest.approx(0.0)
    assert result.total("precision") == pytest.approx(50.0) and result.total("recall") == pytest.approx(50.0)


def test_poseval_quirk_last_frame_counts_for_ap_but_not_mot(tmp_path):
    pred = walk(4)
    pred[-1] = [person(1, 100, 400), person(2, 400, 400)]  # both people far off in the last frame
    result = evaluate(tmp_path, walk(4), pred)
    assert result.total("mota") == pytest.approx(100.0)
    assert result.total("ap") < 100.0


def test_poseval_quirk_joint_without_ground_truth(tmp_path):
    gt = [[person(1, 100, 100, missing=(NOSE,))] for _ in range(3)]
    # predicted by nobody: AP 0, averaged into the total; MOTA NaN, left out
    result = evaluate(tmp_path / "a", gt, [[person(1, 100, 100, missing=(NOSE,))] for _ in range(3)])
    assert result.ap[NOSE] == 0.0 and result.total("ap") == pytest.approx(100 * 14 / 15)
    assert np.isnan(result.mota[NOSE]) and result.total("mota") == pytest.approx(100.0)
    assert np.isnan(result.groups("mota")["Head"])
    # predicted: AP NaN, left out of the total
    result = evaluate(tmp_path / "b", gt, [[person(1, 100, 100)] for _ in range(3)])
    assert np.isnan(result.ap[NOSE]) and result.total("ap") == pytest.approx(100.0)
    assert result_to_dict(result)["per_joint"]["nose"]["AP"] is None


def test_poseval_quirk_motp_counts_raw_events(tmp_path):
    head_size = 0.6 * np.hypot(*(HEAD[2:] - HEAD[:2]))
    gt = [[person(1, 100, 100)] for _ in range(3)]
    pred = [[person(1, 100, 100, offset=0.2 * head_size)] for _ in range(3)]
    result = evaluate(tmp_path, gt, pred)
    # each counted frame adds the 0.2 head-size distance twice: as a RAW event and as the MATCH
    assert result.total("motp") == pytest.approx(100 * (1 - 2 * 0.2))
    assert result.total("ap") == pytest.approx(100.0)


def test_missing_scores_rank_last(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    write_2017(tmp_path / "gt" / "v.json", walk(2))
    write_2017(tmp_path / "pred" / "v.json", walk(2))
    data = json.loads((tmp_path / "pred" / "v.json").read_text())
    for frame in data["annolist"]:
        for rect in frame["annorect"]:
            for point in rect["annopoints"][0]["point"]:
                del point["score"]
    (tmp_path / "pred" / "v.json").write_text(json.dumps(data))
    assert evaluate_posetrack(tmp_path / "gt", tmp_path / "pred").total("ap") == pytest.approx(100.0)
    assert MIN_SCORE < 0


def test_average_precision_is_voc_area_under_interpolated_curve():
    ap, precision, recall = average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2)
    assert ap == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert (precision, recall) == (pytest.approx(2 / 3), 1.0)
    assert average_precision(np.zeros(0), np.zeros(0, bool), 5) == (0.0, 0.0, 0.0)


def test_points_in_polygon():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float64)
    notch = np.array([[0, 0], [10, 0], [10, 10], [5, 5], [0, 10]], np.float64)  # concave: a notch from above
    points = np.array([[5, 2], [5, 8], [20, 5], [-1, 5]], np.float64)
    assert points_in_polygon(points, square).tolist() == [True, True, False, False]
    assert points_in_polygon(points, notch).tolist() == [True, False, False, False]
    assert points_in_polygon(points, square[:2]).tolist() == [False] * 4


# --- bad inputs ----------------------------------------------------------------------------------------------

def _folders(tmp_path: Path, gt: object, pred: object) -> tuple[Path, Path]:
    """A ground-truth and a prediction folder with one file each, holding `gt` and `pred` (text or JSON)."""
    for name, content in (("gt", gt), ("pred", pred)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "v.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return tmp_path / "gt", tmp_path / "pred"


def _layout_2018(tmp_path: Path, frames: list[list[dict]]) -> dict:
    write_2018(tmp_path / "tmp.json", frames)
    return json.loads((tmp_path / "tmp.json").read_text())


def _layout_2017(tmp_path: Path, frames: list[list[dict]]) -> dict:
    write_2017(tmp_path / "tmp.json", frames)
    return json.loads((tmp_path / "tmp.json").read_text())


def test_missing_folders_and_files_are_errors(tmp_path):
    with pytest.raises(AetrackError, match="ground truth folder not found"):
        evaluate_posetrack(tmp_path / "nope", tmp_path)
    (tmp_path / "gt").mkdir()
    with pytest.raises(AetrackError, match="no .json files in ground truth folder"):
        evaluate_posetrack(tmp_path / "gt", tmp_path)
    write_2017(tmp_path / "gt" / "v.json", walk(2))
    with pytest.raises(AetrackError, match="prediction folder not found"):
        evaluate_posetrack(tmp_path / "gt", tmp_path / "nope")
    (tmp_path / "pred").mkdir()
    with pytest.raises(AetrackError, match="no prediction file for 1 of 1 .* --allow-missing"):
        evaluate_posetrack(tmp_path / "gt", tmp_path / "pred")


def test_allow_missing_scores_a_video_as_empty_with_a_warning(tmp_path, capsys):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    write_2017(tmp_path / "gt" / "a.json", walk(3))
    write_2017(tmp_path / "gt" / "b.json", walk(3))
    write_2017(tmp_path / "pred" / "a.json", walk(3))
    result = evaluate_posetrack(tmp_path / "gt", tmp_path / "pred", allow_missing=True)
    assert result.warnings and "b.json" in result.warnings[0]
    assert result.total("ap") == pytest.approx(50.0)  # half the ground truth found, all of it right
    code = main(["eval", "track", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--allow-missing"])
    captured = capsys.readouterr()
    assert code == 0 and "aetrack: warning:" in captured.err and "Head" in captured.out


@pytest.mark.parametrize("breakage, message", [
    ("not json", "not valid JSON"),
    ("unknown layout", "neither PoseTrack layout"),
    ("keypoint count", r"has 48 keypoint values; .* needs 3 x 17 = 51"),
    ("keypoint names", "lack head_top"),
    ("point id", "point id 16 is not a PoseTrack joint id"),
    ("track id", "no 'track_id'"),
    ("duplicate tracks", "predicted track ids are not unique"),
    ("frame count", "has 1 frames but its ground truth"),
    ("head box", "has no head box"),
    ("no people", "lists no person in any frame"),
])
def test_bad_inputs_are_one_line_errors(tmp_path, breakage: str, message: str):
    gt, pred = _layout_2017(tmp_path, walk(2)), _layout_2017(tmp_path, walk(2))
    if breakage == "not json":
        pred = '{"annolist": [}'
    elif breakage == "unknown layout":
        pred = {"frames": []}
    elif breakage in ("keypoint count", "keypoint names"):
        pred = _layout_2018(tmp_path, walk(2))
        if breakage == "keypoint count":
            pred["annotations"][1]["keypoints"] = pred["annotations"][1]["keypoints"][:48]
        else:
            pred["categories"][0]["keypoints"][2] = "top_of_head"
    elif breakage == "point id":
        pred["annolist"][0]["annorect"][0]["annopoints"][0]["point"][0]["id"] = [16]
    elif breakage == "track id":
        del pred["annolist"][1]["annorect"][0]["track_id"]
    elif breakage == "duplicate tracks":
        pred["annolist"][1]["annorect"][1]["track_id"] = [1]
    elif breakage == "frame count":
        pred["annolist"] = pred["annolist"][:1]
    elif breakage == "head box":
        del gt["annolist"][0]["annorect"][0]["x2"]
    elif breakage == "no people":
        gt = _layout_2017(tmp_path, [[], []])
    gt_dir, pred_dir = _folders(tmp_path, gt, pred)
    with pytest.raises(AetrackError, match=message) as info:
        evaluate_posetrack(gt_dir, pred_dir)
    assert "\n" not in str(info.value)


def test_cli_error_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["eval", "track", "--gt", str(tmp_path / "nope"), "--pred", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("aetrack: error: ground truth folder not found") and "\n" not in err


def test_real_posetrack18_files_against_themselves(shared: Path):
    folder = shared / "data" / "posetrack" / "posetrack18_format_sample" / "annotations" / "val"
    if not folder.is_dir():
        pytest.skip(f"PoseTrack 2018 sample {folder} not present")
    result = evaluate_posetrack(folder, folder)
    assert result.total("ap") == pytest.approx(100.0) and result.person["IDF1"] == pytest.approx(100.0)
    assert np.isnan(result.total("mota")) and "one labelled frame" in result.warnings[0]


def test_track_output_name_matches_the_ground_truth_video(tmp_path):
    """`aetrack track` writes <video>.posetrack.json; it is the prediction for ground truth <video>.json."""
    evaluate(tmp_path, walk(), walk())
    (tmp_path / "pred" / "v.json").rename(tmp_path / "pred" / "v.posetrack.json")
    out = result_to_dict(evaluate_posetrack(tmp_path / "gt", tmp_path / "pred"))
    assert out["mAP"] == pytest.approx(100) and out["MOTA"] == pytest.approx(100)
