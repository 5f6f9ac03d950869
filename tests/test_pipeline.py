"""The whole path after the network: maps -> decoder -> tracker -> writers, on a generated video.

An "oracle" predictor renders the maps a perfect network would give from the video's ground truth, so these
tests check everything but the convolutions: geometry, decoding, tracking, outputs and their evaluation.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aetrack.config import Config, InferenceConfig, ModelConfig
from aetrack.data.synth import write_dataset
from aetrack.model import build_model, save_checkpoint
from aetrack.pipeline import PoseTracker, track_source
from helpers_oracle import OraclePredictor


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, seed=5, videos=1, frames=30, people=3, size=(320, 192))
    coco = json.loads((out / "coco.json").read_text())
    video = next((out / "videos").glob("*.mp4"))
    return out, video, coco


def _config() -> Config:
    model = ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, temporal_dim=1, input_size=640)
    return Config(model=model, inference=InferenceConfig(refine=False))


def test_oracle_maps_give_ground_truth_tracks(dataset, tmp_path):
    out, video, coco = dataset
    tracker = PoseTracker(OraclePredictor(video, coco, _config()))
    summary = track_source(str(video), tmp_path, tracker, batch=4, progress=False)
    assert summary.frames == 30 and summary.complete
    lines = [json.loads(x) for x in (tmp_path / f"{video.stem}.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(30))
    # compare with the ground truth through the real PoseTrack evaluation
    from aetrack.eval.posetrack import evaluate_posetrack, result_to_dict

    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir(), pred_dir.mkdir()
    (gt_dir / "v.json").write_text((out / "annotations" / f"{video.stem}.json").read_text())
    (pred_dir / "v.json").write_text((tmp_path / f"{video.stem}.posetrack.json").read_text())
    result = result_to_dict(evaluate_posetrack(gt_dir, pred_dir))
    # head_top is estimated and poseval scores it: not 100
    assert result["mAP"] > 70 and result["MOTA"] > 70, result
    assert result["person"]["num_switches"] == 0


def test_track_command_with_random_weights_writes_all_outputs(dataset, tmp_path):
    _, video, _ = dataset
    config = _config()
    weights = save_checkpoint(tmp_path / "m.pt", build_model(config), config)
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "track", str(video), "--out", str(tmp_path / "o"),
                        "--weights", str(weights), "--render", "--quiet", "--max-frames", "10", "--batch", "3"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == sorted(f"{video.stem}{s}" for s in (".jsonl", ".posetrack.json", ".render.mp4"))
    assert len((tmp_path / "o" / f"{video.stem}.jsonl").read_text().splitlines()) == 10
    data = json.loads((tmp_path / "o" / f"{video.stem}.posetrack.json").read_text())
    assert len(data["images"]) == 10 and data["categories"][0]["keypoints"][1] == "head_bottom"


@pytest.mark.parametrize("args, message", [
    (["missing.mp4"], "no such file"),
    (["{video}", "--weights", "{bad}"], "not a PyTorch checkpoint"),
    (["{video}", "--config", "{bad}"], "config"),
])
def test_track_bad_inputs_fail_in_one_line(dataset, tmp_path, args, message):
    _, video, _ = dataset
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not a model: [")
    args = [a.format(video=video, bad=bad) for a in args]
    weights = []
    if "--weights" not in args:
        config = _config()
        weights = ["--weights", str(save_checkpoint(tmp_path / "m.pt", build_model(config), config))]
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "track", *args, *weights, "--out",
                        str(tmp_path / "o"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
