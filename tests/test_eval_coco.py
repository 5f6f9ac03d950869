"""COCO keypoint evaluation: parity with pycocotools' known values, tiny hand-made cases, and bad inputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aetrack.cli.main import main
from aetrack.errors import AetrackError
from aetrack.eval.coco import STATS_KEYS, evaluate_coco, format_stats_table, poses_to_coco_results
from aetrack.io.json_atomic import write_json_atomic
from aetrack.poses import Poses

# A standing person, 17 COCO joints as (x, y) offsets in pixels from the nose: 70 x 200 pixels, a "large" person.
TEMPLATE = np.array([
    [0, 0], [-5, -5], [5, -5], [-10, 0], [10, 0], [-20, 30], [20, 30], [-30, 60], [30, 60],
    [-35, 90], [35, 90], [-15, 100], [15, 100], [-15, 150], [15, 150], [-15, 200], [15, 200],
], dtype=np.float64)
# (image id, nose x, nose y) of each ground-truth person: two images, two people each.
PEOPLE = [(1, 100, 50), (1, 300, 60), (2, 120, 40), (2, 400, 80)]


def _joints(x: float, y: float) -> np.ndarray:
    return TEMPLATE + (x, y)


def _ground_truth() -> dict:
    """A COCO person_keypoints file for PEOPLE, all joints labelled visible."""
    annotations = []
    for i, (image_id, x, y) in enumerate(PEOPLE):
        joints = _joints(x, y)
        (x0, y0), (x1, y1) = joints.min(0), joints.max(0)
        keypoints = np.concatenate([joints, np.full((17, 1), 2.0)], 1).ravel().tolist()
        annotations.append({"id": i + 1, "image_id": image_id, "category_id": 1, "keypoints": keypoints,
                            "num_keypoints": 17, "area": float((x1 - x0) * (y1 - y0)),
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], "iscrowd": 0})
    return {"images": [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 640, "height": 480}],
            "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "keypoints": [f"j{j}" for j in range(17)],
                            "skeleton": []}]}


def _predictions(shift: float = 0.0) -> list[dict]:
    """Results for PEOPLE through Poses and poses_to_coco_results; the first person moved right by `shift` pixels."""
    results = []
    for image_id in (1, 2):
        people = [(x + (shift if k == 0 else 0.0), y) for k, (i, x, y) in enumerate(PEOPLE) if i == image_id]
        keypoints = np.stack([np.concatenate([_joints(x, y), np.ones((17, 1))], 1) for x, y in people])
        poses = Poses(keypoints.astype(np.float32), np.full(len(people), 0.9, np.float32),
                      np.zeros((len(people), 1), np.float32), np.zeros((len(people), 17, 1), np.float32))
        results += poses_to_coco_results(poses, image_id)
    return results


@pytest.fixture()
def files(tmp_path: Path):
    """Write a ground truth and predictions into tmp_path; returns their paths."""
    def write(gt: object = None, pred: object = None) -> tuple[Path, Path]:
        gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
        write_json_atomic(gt_path, _ground_truth() if gt is None else gt)
        write_json_atomic(pred_path, _predictions() if pred is None else pred)
        return gt_path, pred_path
    return write


def _cli(capsys, gt: Path | str, pred: Path | str, *extra: str) -> tuple[int, str, str]:
    code = main(["eval", "coco", "--gt", str(gt), "--pred", str(pred), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- parity with pycocotools' known values on real data --------------------------------------------------------

@pytest.mark.parametrize("name", ["faster_coco_eval_keypoints_dataset", "xtcocoapi_example_coco"])
def test_cli_reproduces_reference_values(shared: Path, capsys, name: str):
    refs = shared / "data" / "coco" / "eval_refs"
    expected = json.loads((refs / "EXPECTED_VALUES.json").read_text())[name]
    gt = refs / expected["gt"].split(" ")[0]  # the entry may carry a note after the path
    code, out, err = _cli(capsys, gt, refs / expected["dt"], "--format", "json")
    assert code == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    assert list(got) == list(STATS_KEYS)
    assert max(abs(got[k] - v) for k, v in zip(STATS_KEYS, expected["stats"])) <= 1e-6


# --- hand-made ground truth and predictions ----------------------------------------------------------------------

def test_perfect_predictions_score_one(files):
    stats = evaluate_coco(*files())
    for key in STATS_KEYS:
        # every person is large (70 x 200 pixels), so the medium-area stats have no ground truth: -1
        assert stats[key] == (-1.0 if key in ("APm", "ARm") else 1.0), key


def test_predictions_as_list_equal_predictions_as_file(files):
    gt, pred = files()
    predictions = _predictions(shift=6.0)
    before = json.dumps(predictions)
    assert evaluate_coco(gt, predictions) == evaluate_coco(*files(pred=predictions))
    assert json.dumps(predictions) == before  # pycocotools writes into results; ours must stay as given


def test_shifted_prediction_lowers_ap(files):
    perfect = evaluate_coco(*files())
    small = evaluate_coco(*files(pred=_predictions(shift=4.0)))
    large = evaluate_coco(*files(pred=_predictions(shift=12.0)))
    assert perfect["AP"] > small["AP"] > large["AP"]
    assert perfect["AR"] > small["AR"] > large["AR"]


def test_json_format_prints_only_the_stats(files, capsys):
    code, out, err = _cli(capsys, *files(), "--format", "json")
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1  # pycocotools' chatter is silenced
    assert json.loads(lines[0]) == evaluate_coco(*files())


def test_verbose_sends_pycocotools_summary_to_stderr(files, capsys):
    code, out, err = _cli(capsys, *files(), "--format", "json", "--verbose")
    assert code == 0
    assert "Average Precision" in err and "Average Precision" not in out
    assert json.loads(out.strip().splitlines()[-1])["AP"] == 1.0


def test_table_format_is_aligned(files, capsys):
    code, out, _ = _cli(capsys, *files(), "--format", "table")
    assert code == 0
    rows = [line for line in out.splitlines() if line.split(" ")[0] in STATS_KEYS]
    assert [row.split()[0] for row in rows] == list(STATS_KEYS)
    assert len({row.index(row.split()[1]) for row in rows}) == 1  # values start in one column
    assert rows[0].split()[1] == "1.0000" and rows[3].split()[1] == "n/a"
    assert out == format_stats_table(evaluate_coco(*files())) + "\n"


def test_cli_runs_as_a_module(files):
    gt, pred = files()
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "eval", "coco", "--gt", str(gt),
                        "--pred", str(pred), "--format", "json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["AP"] == 1.0


def test_eval_without_benchmark_shows_help(capsys):
    assert main(["eval"]) == 2
    assert "coco" in capsys.readouterr().out


# --- poses_to_coco_results and write_json_atomic ----------------------------------------------------------------

def test_poses_to_coco_results_flattens_joints():
    keypoints = np.arange(2 * 17 * 3, dtype=np.float32).reshape(2, 17, 3)
    poses = Poses(keypoints, np.array([0.5, 0.25], np.float32), np.zeros((2, 1), np.float32),
                  np.zeros((2, 17, 1), np.float32))
    results = poses_to_coco_results(poses, np.int64(7))
    assert [r["score"] for r in results] == [0.5, 0.25]
    assert all(r["image_id"] == 7 and r["category_id"] == 1 for r in results)
    assert results[1]["keypoints"] == keypoints[1].ravel().tolist()  # x, y, score of joint 0, then joint 1, ...
    json.dumps(results)  # plain Python types only
    assert poses_to_coco_results(Poses.empty(), 7) == []


def test_write_json_atomic_replaces_and_leaves_no_temp_file(tmp_path: Path):
    path = tmp_path / "sub" / "out.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, [1, 2])
    assert json.loads(path.read_text()) == [1, 2]
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file's mode, not a temp file's 0o600


def test_write_json_atomic_failure_keeps_the_old_file(tmp_path: Path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(AetrackError, match="cannot write"):
        write_json_atomic(tmp_path / "dir.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.json", "out.json"]


# --- bad inputs: one-line AetrackError, exit code 1 -------------------------------------------------------------

def _without(field: str) -> list[dict]:
    results = _predictions()
    del results[1][field]
    return results


def _edited(index: int, **fields: object) -> list[dict]:
    results = _predictions()
    results[index].update(fields)
    return results


def _on_images(*image_ids: int) -> list[dict]:
    """The good predictions, the first ones moved onto `image_ids`."""
    results = _predictions()
    for result, image_id in zip(results, image_ids):
        result["image_id"] = image_id
    return results


def _gt_edited(**fields: object) -> dict:
    return {**_ground_truth(), **fields}


def _gt_annotation_without(field: str) -> dict:
    gt = _ground_truth()
    del gt["annotations"][2][field]
    return gt


def _gt_with_joints(count: int) -> dict:
    gt = _ground_truth()
    gt["categories"][0]["keypoints"] = gt["categories"][0]["keypoints"][:count]
    return gt


# (case id, ground truth, predictions, a fragment of the message); None = the good default
BAD_INPUTS = [
    ("empty predictions", None, [], "holds no predictions"),
    ("predictions not a list", None, {"annotations": []}, "must hold a JSON list"),
    ("prediction not an object", None, [1, 2], "prediction 0 in"),
    *[(f"no {field}", None, _without(field), f"prediction 1 in {{pred}} lacks '{field}'")
      for field in ("image_id", "category_id", "keypoints", "score")],
    ("keypoints too short", None, _edited(2, keypoints=[0.0] * 50), "has 50 keypoint values; its category has 17"),
    ("keypoints as a string", None, _edited(0, keypoints="none"), "needs 3 x 17 = 51"),
    ("keypoints not numbers", None, _edited(0, keypoints=[None] * 51), "not finite numbers"),
    ("score NaN", None, _edited(3, score=float("nan")), "prediction 3 in {pred} has score nan"),
    ("unknown category", None, _edited(0, category_id=2), "category_id 2; the ground truth's keypoint categories"),
    ("unknown images", None, _on_images(9, 8),
     "2 of 4 predictions in {pred} are on 2 image id(s) not in the ground truth (8, 9)"),
    ("bbox on some only", None, _edited(0, bbox=[0, 0, 10, 10]), "prediction 1 in {pred} has no valid 'bbox'"),
    ("gt not COCO", [1, 2], None, "is not a COCO ground-truth file"),
    ("gt without keypoint categories", _gt_edited(categories=[{"id": 1, "name": "person"}]), None,
     "has no category with keypoints"),
    ("gt without keypoint annotations", _gt_edited(annotations=[]), None, "has no keypoint annotations"),
    ("gt annotation incomplete", _gt_annotation_without("num_keypoints"), None,
     "annotation 2 of {gt} lacks 'num_keypoints'"),
    ("gt with 14 joints", _gt_with_joints(14), None, "category 1 has 14 keypoints"),
]


@pytest.mark.parametrize("gt, pred, fragment", [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_line_error(files, capsys, gt, pred, fragment):
    gt_path, pred_path = files(gt, pred)
    fragment = fragment.format(gt=gt_path, pred=pred_path)
    with pytest.raises(AetrackError) as info:
        evaluate_coco(gt_path, pred_path)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    code, out, err = _cli(capsys, gt_path, pred_path)
    assert code == 1 and out == ""
    assert err == f"aetrack: error: {info.value}\n"


@pytest.mark.parametrize("which", ["gt", "pred"])
def test_missing_or_non_json_file_is_one_line_error(files, capsys, tmp_path: Path, which: str):
    paths = dict(zip(("gt", "pred"), files()))
    what = "ground truth" if which == "gt" else "predictions"
    paths[which] = tmp_path / "absent.json"
    with pytest.raises(AetrackError, match=f"^{what} file not found: "):
        evaluate_coco(paths["gt"], paths["pred"])
    paths[which] = tmp_path / "broken.json"
    paths[which].write_text('{"images": [')
    with pytest.raises(AetrackError, match=f"^{what} file .* is not valid JSON \\(line 1"):
        evaluate_coco(paths["gt"], paths["pred"])
    code, _, err = _cli(capsys, paths["gt"], paths["pred"])
    assert code == 1 and err.startswith("aetrack: error: ") and err.count("\n") == 1


def test_bad_input_in_a_real_process_has_no_traceback(files):
    gt, pred = files(pred=[])
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "eval", "coco", "--gt", str(gt),
                        "--pred", str(pred)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.startswith("aetrack: error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_posetrack_ground_truth_and_tracker_output_evaluate_per_frame(tmp_path):
    """`aetrack eval coco` on PoseTrack files: ground truth against itself is perfect, a shifted copy is not."""
    import json as _json

    from aetrack.cli.main import main
    from aetrack.data.synth import write_dataset

    write_dataset(tmp_path / "s", seed=2, videos=1, frames=4, people=3, size=(200, 120))
    gt_dir = tmp_path / "s" / "annotations"
    name = next(gt_dir.glob("*.json")).stem
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    data = _json.loads((gt_dir / f"{name}.json").read_text())
    (pred_dir / f"{name}.posetrack.json").write_text(_json.dumps(data))
    shifted = _json.loads(_json.dumps(data))
    for a in shifted["annotations"]:
        a["keypoints"] = [v + 6 if i % 3 == 0 and a["keypoints"][i + 2] > 0 else v
                          for i, v in enumerate(a["keypoints"])]
    (tmp_path / "shifted").mkdir()
    (tmp_path / "shifted" / f"{name}.json").write_text(_json.dumps(shifted))
    stats = {}
    for label, pred in (("same", pred_dir), ("shifted", tmp_path / "shifted")):
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["eval", "coco", "--gt", str(gt_dir), "--pred", str(pred), "--format", "json"]) == 0
        stats[label] = _json.loads(buf.getvalue().strip().splitlines()[-1])
    assert stats["same"]["AP"] == pytest.approx(1.0)
    assert stats["shifted"]["AP"] < 0.9
