"""`aetrack plot tags|tracks` and the plotting functions under them, on generated inputs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aetrack.cli.main import main
from aetrack.config import Config, InferenceConfig, ModelConfig
from aetrack.errors import AetrackError
from aetrack.model import build_model, save_checkpoint
from aetrack.poses import Poses

pytest.importorskip("matplotlib")

from aetrack.viz.plots import plot_tags, plot_tracks, track_spans  # noqa: E402  (needs matplotlib)


def png(path: Path) -> np.ndarray:
    """The PNG at `path` as a (H, W, 3) BGR image; fails the test when it is missing or unreadable."""
    assert path.is_file(), path
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def colours(image: np.ndarray) -> int:
    """Distinct strong colours (not white, black or grey): how much was drawn beyond axes and text."""
    pixels = image.reshape(-1, 3).astype(int)
    strong = pixels[pixels.max(1) - pixels.min(1) > 60]
    return len({tuple(p // 32) for p in strong})


def people(tags: list[float], dims: int = 1) -> Poses:
    """People with all 17 joints found, person p's tag `tags[p]` at every joint (plus noise), in `dims` dims."""
    rng = np.random.default_rng(0)
    count = len(tags)
    keypoints = np.ones((count, 17, 3), np.float32)
    joint_tags = (np.array(tags, np.float32)[:, None, None] + rng.normal(0, 0.05, (count, 17, dims))).astype(
        np.float32)
    return Poses(keypoints, np.linspace(0.9, 0.5, count).astype(np.float32), joint_tags.mean(1), joint_tags)


@pytest.mark.parametrize("dims", [1, 2])
def test_tags_plot_has_one_colour_per_person(tmp_path: Path, dims: int) -> None:
    out = plot_tags(people([-2.0, 0.0, 2.0], dims), tmp_path / "tags.png", size=(800, 300 * dims))
    image = png(out)
    assert image.shape == (300 * dims, 800, 3)
    assert colours(image) >= 3


def test_track_spans_break_where_a_track_is_missing() -> None:
    def record(frame: int, *ids: int) -> dict:
        return {"frame": frame, "people": [{"track_id": i} for i in ids]}

    records = [record(0, 1), record(1, 1, 2), record(2, 2, -1), record(3, 1, 2), record(5, 1)]  # frame 4 skipped
    assert track_spans(records) == {1: [(0, 1), (3, 5)], 2: [(1, 3)]}


def test_tracks_command_draws_the_timeline(tmp_path: Path) -> None:
    jsonl = tmp_path / "run.jsonl"
    lines = [{"frame": f, "time": f / 10, "detections": 2,
              "people": [{"track_id": t, "score": 1.0, "box": [0, 0, 1, 1], "keypoints": [[0, 0, 1]] * 17}
                         for t in (1, 2, 3) if (f < 30 or t != 1) and (f > 10 or t != 3)]}
             for f in range(40)]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert main(["plot", "tracks", str(jsonl), "--out", str(tmp_path / "tracks.png"), "--size", "640", "320"]) == 0
    image = png(tmp_path / "tracks.png")
    assert image.shape == (320, 640, 3) and colours(image) >= 3


def test_tags_command_runs_the_model_on_a_frame(tmp_path: Path) -> None:
    config = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, tag_dim=2, input_size=64),
                    inference=InferenceConfig(refine=False, max_people=3))
    torch.manual_seed(0)
    weights = save_checkpoint(tmp_path / "tiny.pt", build_model(config), config)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((48, 64, 3), 50 * i, np.uint8))
    out = tmp_path / "tags.png"
    assert main(["plot", "tags", "--video", str(folder), "--frame", "2", "--weights", str(weights),
                 "--out", str(out)]) == 0
    assert png(out).shape == (450, 1000, 3)
    assert main(["plot", "tags", "--video", str(folder), "--frame", "7", "--weights", str(weights)]) == 1


def test_plots_without_matplotlib_say_how_to_install_it(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(AetrackError, match=r"pip install 'aetrack\[plot\]'"):
        plot_tracks([], tmp_path / "x.png")
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text('{"frame": 0, "people": []}\n')
    assert main(["plot", "tracks", str(jsonl), "--out", str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err.strip() == "aetrack: error: plots need matplotlib: pip install 'aetrack[plot]'"
    assert not (tmp_path / "x.png").exists()
