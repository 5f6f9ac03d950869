"""mmpose's networks (HigherHRNet, Hourglass-AE, top-down hourglass): parity with mmpose 0.29's recorded outputs,
the released architectures' exact state-dict layout, checkpoint reading and conversion, and `split_outputs`."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from aetrack.config import Config, ModelConfig, load_config
from aetrack.errors import AetrackError
from aetrack.model import (build_model, count_parameters, load_checkpoint_model, load_model, normalize_input,
                           save_checkpoint, split_outputs)

SMALL = {  # checkpoint -> what its tensors say about the network
    "hg_ae_small": dict(arch="mmpose-hourglass-ae", stacks=2, width=16, stage_channels=(16, 24, 32, 40, 48)),
    "higherhrnet_small": dict(arch="higherhrnet", width=8, stage1_channels=16, stage_blocks=(1, 1, 1, 1),
                              stage_modules=(1, 1, 1), head_blocks=4),
    "topdown_hourglass_small": dict(arch="topdown-hourglass", stacks=1, stem=(128, 256), width=8, depth=5,
                                    stage_channels=(256, 16, 16, 16, 16, 16), stage_blocks=(1,) * 6),
}
PRESETS = [  # preset -> the released architecture's names and shapes
    ("mmpose_hourglass_ae_512", "hg_ae_coco_512x512"),
    ("higherhrnet_w32_512", "higherhrnet_w32_coco_512x512"),
    ("higherhrnet_w32_640", "higherhrnet_w32_coco_512x512"),
    ("higherhrnet_w48_512", "higherhrnet_w48_coco_512x512"),
    ("topdown_hourglass52_256", "topdown_hourglass52_coco_256x256"),
    ("topdown_hourglass52_384", "topdown_hourglass52_coco_256x256"),
]


@pytest.fixture(scope="module")
def mm(shared):
    return shared / "fixtures" / "mmpose_ae_reference"


def _outputs(model: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    """The network's maps as a list, one per recorded `output<i>` (stacks unbound, resolutions listed)."""
    with torch.no_grad():
        out = model(x)
    if torch.is_tensor(out):
        out = list(out.unbind(1)) if out.dim() == 5 else [out]
    return [o.numpy() for o in out]


def _relative_error(got: list[np.ndarray], expected: list[np.ndarray]) -> float:
    assert [g.shape for g in got] == [e.shape for e in expected]
    return max(float(np.abs(g - e).max() / np.abs(e).max()) for g, e in zip(got, expected))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_checkpoint_reproduces_mmpose(mm, name):
    model, ckpt = load_checkpoint_model(mm / f"{name}.pth")
    assert ckpt.kind == "mmpose" and model.config == ModelConfig(**{**dict(input_size=model.config.input_size),
                                                                      **SMALL[name]})
    io = np.load(mm / f"{name}_io.npz")
    expected = [io[k] for k in sorted(io.files) if k.startswith("output")]
    assert _relative_error(_outputs(model, torch.from_numpy(io["input_nchw"])), expected) < 1e-4


@pytest.mark.parametrize("preset, keys", PRESETS)
def test_preset_has_the_released_layout(mm, preset, keys):
    expected = json.loads((mm / f"{keys}_keys.json").read_text())
    with torch.device("meta"):  # names and shapes only: no memory, no initialisation
        model = build_model(load_config(preset))
    assert {n: list(t.shape) for n, t in model.state_dict().items()} == expected["state_dict"]
    assert count_parameters(model) == expected["num_parameters"]


def test_preset_properties():
    hr, ae, td = (load_config(p).model for p in ("higherhrnet_w32_640", "mmpose_hourglass_ae_512",
                                                 "topdown_hourglass52_256"))
    assert (hr.output_strides, hr.output_tags, hr.input_norm, hr.input_size) == ((4, 2), (True, False), "imagenet", 640)
    assert (ae.output_strides, ae.output_tags, ae.input_norm, ae.out_channels) == ((4,), (True,), "imagenet", 34)
    assert (td.output_tags, td.out_channels, td.input_norm) == ((False,), 17, "imagenet")
    assert (ModelConfig().input_norm, ModelConfig().output_tags) == ("unit", (True,))


def _save_mmpose(path, state):
    torch.save({"meta": {"mmpose_version": "0.29.0"}, "state_dict": state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.0015}]}}, path)


def test_mismatched_mmpose_checkpoint_is_one_clear_line(mm, tmp_path):
    state = torch.load(mm / "higherhrnet_small.pth", weights_only=True)["state_dict"]
    state.pop("backbone.stage4.0.branches.3.0.bn2.running_var")
    state["keypoint_head.deconv_layers.0.1.0.conv1.weight"] = torch.zeros(8, 8, 1, 1)
    _save_mmpose(tmp_path / "bad.pth", state)
    with pytest.raises(AetrackError) as info:
        load_model(tmp_path / "bad.pth")
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "bad.pth") in msg
    assert "missing 1: backbone.stage4.0.branches.3.0.bn2.running_var" in msg
    assert "keypoint_head.deconv_layers.0.1.0.conv1.weight (8, 8, 1, 1) vs (8, 8, 3, 3)" in msg


def test_mmpose_checkpoint_without_a_needed_tensor(mm, tmp_path):
    state = torch.load(mm / "hg_ae_small.pth", weights_only=True)["state_dict"]
    state.pop("backbone.stem.4.conv.weight")
    _save_mmpose(tmp_path / "bad.pth", state)
    with pytest.raises(AetrackError, match="without tensor 'backbone.stem.4.conv.weight'"):
        load_model(tmp_path / "bad.pth")


@pytest.mark.parametrize("name", sorted(SMALL))
def test_mmpose_model_round_trips_through_our_format(mm, name, tmp_path):
    model, ckpt = load_checkpoint_model(mm / f"{name}.pth")
    path = save_checkpoint(tmp_path / "m.pt", model, ckpt.config, ckpt.meta)
    loaded, again = load_checkpoint_model(path)
    assert again.kind == "aetrack" and again.config == ckpt.config
    assert again.meta["input_range"] == "ImageNet mean/std normalised RGB"
    x = torch.randn(1, 3, 128, 128)  # a multiple of every small network's 2**(depth + 2)
    for a, b in zip(_outputs(model, x), _outputs(loaded, x)):
        assert np.array_equal(a, b)


def test_import_weights_cli_converts_mmpose(mm, tmp_path):
    out = tmp_path / "hrnet.pt"
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "import-weights", str(mm / "higherhrnet_small.pth"),
                        str(out), "--input-size", "640"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "higherhrnet" in r.stdout and "mmpose format in" in r.stdout
    model, ckpt = load_checkpoint_model(out)
    assert ckpt.config.model.input_size == 640 and ckpt.meta["imported_kind"] == "mmpose"
    io = np.load(mm / "higherhrnet_small_io.npz")
    assert _relative_error(_outputs(model, torch.from_numpy(io["input_nchw"])), [io["output0"], io["output1"]]) < 1e-4


def test_split_outputs_for_every_arch(mm):
    x = torch.rand(2, 3, 64, 64)
    hr = load_model(mm / "higherhrnet_small.pth")
    with torch.no_grad():
        low, high = split_outputs(hr(x), hr.config)
    assert (low.stride, high.stride) == (4, 2) and high.tags is None and low.temporal is None
    assert low.heatmaps.shape == low.tags.shape == (2, 17, 16, 16) and high.heatmaps.shape == (2, 17, 32, 32)

    ours = ModelConfig(stacks=2, stem=(8, 8), width=8, increase=4, tag_dim=2, temporal_dim=1, input_size=64)
    with torch.no_grad():
        maps = split_outputs(build_model(ours).eval()(x), ours)
    assert len(maps) == 2 and all(m.stride == 4 for m in maps)
    assert maps[1].tags.shape == (2, 34, 16, 16) and maps[1].temporal.shape == (2, 17, 16, 16)

    td = ModelConfig(arch="topdown-hourglass", stacks=2, stem=(8, 16), width=8, depth=2, stage_channels=(16, 16, 16),
                     stage_blocks=(1, 1, 1), input_size=64)
    model = build_model(td).eval()
    with torch.no_grad():
        stacks = split_outputs(model.forward_stacks(x), td)
        last = split_outputs(model(x), td)
    assert len(stacks) == 2 and len(last) == 1 and stacks[1].tags is None
    assert torch.equal(stacks[1].heatmaps, last[0].heatmaps) and last[0].heatmaps.shape == (2, 17, 16, 16)


def test_normalize_input():
    images = torch.rand(1, 3, 4, 4)
    assert normalize_input(images, ModelConfig()) is images
    out = normalize_input(images, load_config("higherhrnet_w32_512").model)
    assert torch.allclose(out[0, 1], (images[0, 1] - 0.456) / 0.224)


@pytest.mark.parametrize("fields, message", [
    (dict(arch="resnet"), "model.arch must be one of"),
    (dict(arch="higherhrnet", width=32, stage_blocks=(4, 4, 4), stage_modules=(1, 4, 3)),
     "model.stage_blocks must be 4"),
    (dict(arch="mmpose-hourglass-ae", stage_channels=(128, 384, 512, 640, 768)), "must equal model.width"),
    (dict(stage_channels=(256, 384)), "not used by model.arch hourglass"),
])
def test_bad_arch_settings_are_named(fields, message):
    with pytest.raises(AetrackError, match=message):
        ModelConfig(**fields)


def test_config_with_arch_round_trips_through_yaml_data():
    from aetrack.config import config_from_dict, config_to_dict
    config = load_config("topdown_hourglass52_384")
    assert config_from_dict(config_to_dict(config)) == config
    assert isinstance(config, Config) and config.model.stage_blocks == (2, 2, 2, 2, 2, 4)
