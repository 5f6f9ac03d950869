"""The stacked hourglass and checkpoint formats: parity with the authors' reference implementation."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from aetrack.config import Config, ModelConfig, load_config
from aetrack.errors import AetrackError
from aetrack.model import build_model, count_parameters, load_checkpoint_model, load_model, save_checkpoint
from aetrack.model.checkpoint import read_checkpoint


@pytest.fixture(scope="module")
def ref(shared):
    return shared / "fixtures" / "pose_ae_reference"


def test_reference_checkpoint_reproduces_recorded_forward(ref):
    model = load_model(ref / "hourglass_small.pth.tar")
    io = np.load(ref / "hourglass_small_io.npz")
    x = torch.from_numpy(io["input_nhwc"]).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        y = model(x).numpy()
    assert y.shape == io["output"].shape == (2, 2, 68, 32, 32)
    assert np.abs(y - io["output"]).max() < 1e-5


def test_reference_config_is_inferred_from_tensors(ref):
    cfg = json.loads((ref / "hourglass_small_config.json").read_text())
    m = read_checkpoint(ref / "hourglass_small.pth.tar").config.model
    assert (m.stacks, m.width, m.increase, m.out_channels, m.batch_norm) == (
        cfg["nstack"], cfg["inp_dim"], cfg["increase"], cfg["oup_dim"], cfg["bn"])
    assert m.inner_increase == 128  # the reference's quirk: deeper levels always add 128


def test_paper_preset_has_the_reference_layout(ref):
    expected = json.loads((ref / "hourglass_paper_keys.json").read_text())
    model = build_model(load_config("paper"))
    shapes = {"model.module." + k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == expected["state_dict_shapes"]
    assert count_parameters(model) == expected["num_parameters"] == 138_893_840


def test_output_shape_and_stride():
    cfg = ModelConfig(stacks=2, stem=(8, 16), width=16, increase=8, tag_dim=2, temporal_dim=2, input_size=128)
    model = build_model(cfg).eval()
    with torch.no_grad():
        y = model(torch.rand(3, 3, 128, 192))
    assert y.shape == (3, 2, 17 * 5, 32, 48)


def test_batch_norm_model_round_trips_through_our_format(tmp_path):
    config = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, batch_norm=True, input_size=64))
    model = build_model(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = save_checkpoint(tmp_path / "m.pt", model, config, {"trained_on": "nothing"})
    loaded, ckpt = load_checkpoint_model(path)
    assert ckpt.config == config and ckpt.meta["trained_on"] == "nothing"
    assert ckpt.meta["joints"][0] == "nose"
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write leaves no temporary file


def test_import_weights_cli_converts_reference(ref, tmp_path):
    out = tmp_path / "converted.pt"
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "import-weights",
                        str(ref / "hourglass_small.pth.tar"), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = load_model(ref / "hourglass_small.pth.tar"), load_model(out)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_import_weights_config_stores_new_settings_in_our_own_checkpoint(ref, tmp_path):
    from aetrack.model.checkpoint import read_checkpoint

    out = tmp_path / "converted.pt"
    settings = tmp_path / "settings.yaml"
    settings.write_text("tracker:\n  embedding_weight: 0.0\n  min_hits: 2\ninference:\n  flip: true\n")
    cli = [sys.executable, "-m", "aetrack.cli.main", "import-weights"]
    assert subprocess.run([*cli, str(ref / "hourglass_small.pth.tar"), str(out)], capture_output=True).returncode == 0
    before = read_checkpoint(out)
    r = subprocess.run([*cli, str(out), str(out), "--config", str(settings)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    after = read_checkpoint(out)
    assert after.config.tracker.embedding_weight == 0.0 and after.config.tracker.min_hits == 2
    assert after.config.inference.flip and after.config.tracker.max_age == before.config.tracker.max_age
    assert after.config.model == before.config.model and after.meta["settings_from"] == str(settings)
    assert all(torch.equal(after.state_dict[k], v) for k, v in before.state_dict.items())


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello, not a checkpoint", "not a PyTorch checkpoint"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(AetrackError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_checkpoint_cli_error_is_one_line(ref, tmp_path):
    bad = tmp_path / "trunc.pth.tar"
    bad.write_bytes((ref / "hourglass_small.pth.tar").read_bytes()[:100_000])
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "import-weights", str(bad), str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "truncated" in r.stderr and str(bad) in r.stderr


def test_mismatched_checkpoint_names_tensors(tmp_path):
    small = ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=64)
    model = build_model(small)
    state = model.state_dict()
    state.pop("outs.0.conv.bias")
    state["extra.weight"] = torch.zeros(1)
    state["pre.0.conv.weight"] = torch.zeros(8, 3, 5, 5)
    torch.save({"format": "aetrack", "version": 1, "config": {"model": {"stacks": 1, "stem": [8, 8], "width": 8,
                "increase": 4, "input_size": 64}}, "state_dict": state}, tmp_path / "m.pt")
    with pytest.raises(AetrackError) as info:
        load_model(tmp_path / "m.pt")
    msg = str(info.value)
    assert "missing 1: outs.0.conv.bias" in msg and "unexpected 1: extra.weight" in msg
    assert "pre.0.conv.weight (8, 3, 5, 5) vs (8, 3, 7, 7)" in msg


def test_pickled_objects_are_refused(tmp_path):
    import argparse
    torch.save({"state_dict": {"x": argparse.Namespace(payload=1)}}, tmp_path / "evil.pt")
    with pytest.raises(AetrackError, match="not loaded for safety"):
        load_model(tmp_path / "evil.pt")
