"""mmpose 0.29's bottom-up test path as a preset of our pipeline: maps -> people equal mmpose's recorded people
(15 end-to-end cases), preprocessing equals mmpose's network input pixel for pixel, and `Predictor` with the
preset gives what `group_outputs` gives on the same network outputs."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from aetrack.config import InferenceConfig
from aetrack.errors import AetrackError
from aetrack.infer import group_outputs, preprocess, preset_config
from aetrack.inference.geometry import aligned, placements
from aetrack.inference.images import read_image
from aetrack.inference.people import oks_nms
from aetrack.inference.predictor import Predictor
from aetrack.poses import Poses

FIXTURES = "fixtures/mmpose_ae_reference/"
PRESET = {"hg_ae": "mmpose-hourglass", "higherhrnet": "mmpose-higherhrnet"}


@pytest.fixture(scope="module")
def recorded(shared):
    cases = json.loads((shared / FIXTURES / "recorded.json").read_text())["end_to_end"]
    return cases, np.load(shared / FIXTURES / "end_to_end_cases.npz")


def _same_people(a: np.ndarray, b: np.ndarray, tol: float) -> float:
    """Largest difference between matched people (order free); inf when they cannot be matched."""
    if a.shape != b.shape:
        return np.inf
    worst, used = 0.0, set()
    for p in a:
        d = [np.abs(b[j] - p).max() if j not in used else np.inf for j in range(len(b))]
        j = int(np.argmin(d))
        if d[j] > tol:
            return np.inf
        worst, _ = max(worst, float(d[j])), used.add(j)
    return worst


def _case_outputs(c: dict, z) -> list:
    strides = [4] if c["model"] == "hg_ae" else [4, 2]
    return [[[z[f"{c['key']}_scale{s}_flip{f}_stride{st}"].astype(np.float32)[None] for st in strides]
             for f in ([0, 1] if c["flip"] else [0])] for s in range(len(c["scales"]))]


@pytest.mark.parametrize("index", range(15))
def test_group_outputs_equals_mmpose(recorded, index):
    cases, z = recorded
    c = cases[index]
    people, scores = group_outputs(_case_outputs(c, z), tuple(c["image_wh"]), scales=c["scales"], flip=c["flip"],
                                   preset=PRESET[c["model"]])
    expected = z[c["key"] + "_preds"]
    assert people.shape == expected.shape
    assert _same_people(people, expected, 0.01) <= 0.01
    assert np.allclose(np.sort(scores), np.sort(z[c["key"] + "_scores"]), atol=1e-5)


def test_geometry_equals_mmpose(recorded):
    cases, _ = recorded
    for c in cases:
        w, h = c["image_wh"]
        places, base = placements(h, w, 512, tuple(c["scales"]), "align")
        assert [[p.input_h, p.input_w] for p in places] == c["input_hw_per_scale"]
        assert [base.input_w, base.input_h] == c["base_size"]
        assert np.allclose(base.center, c["center"]) and np.allclose(base.scale, c["scale"])


def test_preprocessing_equals_mmpose_input(shared, recorded):
    cases, z = recorded
    image = read_image(shared / cases[0]["image"])
    for preset in ("mmpose-hourglass", "mmpose-higherhrnet"):
        x = preprocess(image, preset)
        assert x.shape == z["img0_input_scale1"].shape
        assert np.abs(x - z["img0_input_scale1"]).max() <= 1e-4
    # the same scale-1 input when it is one of several test scales (its size follows the smallest scale)
    assert np.abs(preprocess(image, "mmpose-hourglass", 1.0, (2.0, 1.0, 0.5)) - z["img0_input_scale1"]).max() <= 1e-4


def test_aligned_coordinates_round_trip():
    for h, w, scale, low in ((427, 640, 1.0, 1.0), (640, 480, 2.0, 0.5), (100, 37, 0.5, 0.5)):
        place = aligned(h, w, 512, scale, low)
        assert place.input_h % 64 == 0 and place.input_w % 64 == 0
        xy = np.random.default_rng(0).uniform(0, [w, h], size=(20, 2))
        for stride in (1, 2, 4):
            assert np.allclose(place.heatmap_to_image(place.image_to_heatmap(xy, stride), stride), xy)
        # the warp takes the image centre to the input centre
        m = place.affine()
        assert np.allclose(m @ [*place.center, 1.0], [place.input_w / 2, place.input_h / 2])


class FakeNetwork(torch.nn.Module):
    """Stands in for mmpose's networks: smooth maps computed from the input by fixed random convolutions, in
    HigherHRNet's format (a list: stride 4 with 34 channels, stride 2 with 17) or Hourglass-AE's
    (N, stacks, 34, h, w). Records every input and output."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.kind = kind
        self.low = torch.nn.Conv2d(3, 34, 8, stride=4, padding=2)
        self.high = torch.nn.Conv2d(3, 17, 4, stride=2, padding=1)
        self.inputs: list[np.ndarray] = []
        self.outputs: list = []

    def forward(self, x: torch.Tensor):
        self.inputs.append(x.numpy().copy())
        low = self.low(x)
        low = torch.cat([torch.sigmoid(low[:, :17] * 3 - 2), low[:, 17:]], 1)
        if self.kind == "higherhrnet":
            out = [low, torch.sigmoid(self.high(x) * 3 - 2)]
            self.outputs.append([o.numpy().copy() for o in out])
        else:
            out = torch.stack([low * 0.5, low], 1)  # two stacks; the last one counts
            self.outputs.append(out.numpy().copy())
        return out


@pytest.mark.parametrize("preset, kind, scales, flip", [
    ("mmpose-hourglass", "hourglass", (1.0,), False),
    ("mmpose-hourglass", "hourglass", (2.0, 1.0, 0.5), True),
    ("mmpose-higherhrnet", "higherhrnet", (1.0,), True),
    ("mmpose-higherhrnet", "higherhrnet", (1.5, 1.0), True),
])
def test_predictor_with_preset_equals_group_outputs(preset, kind, scales, flip):
    config = preset_config(preset)
    config = replace(config, inference=replace(config.inference, scales=scales, flip=flip))
    net = FakeNetwork(kind)
    image = np.random.default_rng(1).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    poses = Predictor(net, config, "cpu")([image])[0]
    assert len(poses) > 0

    # the network saw mmpose's inputs
    for s, x in zip(scales, net.inputs):
        expected = preprocess(image, preset, s, scales)
        assert np.array_equal(x[:1], expected)
        if flip:
            assert np.array_equal(x[1:], expected[..., ::-1])

    def one(out, row):
        if isinstance(out, list):
            return [o[row:row + 1] for o in out]
        return [out[row:row + 1, -1]]

    outputs = [[one(o, f) for f in range(1 + flip)] for o in net.outputs]
    people, scores = group_outputs(outputs, (200, 150), scales=scales, flip=flip, preset=preset)
    mine = np.concatenate([poses.keypoints, poses.joint_tags], -1)
    assert np.array_equal(mine, people) and np.array_equal(poses.scores, scores)


def test_mmpose_settings_live_in_the_presets():
    hg, hrnet = preset_config("mmpose-hourglass"), preset_config("mmpose-higherhrnet")
    for c in (hg, hrnet):
        i = c.inference
        assert (i.resize, i.project, i.grouping, i.base_scale_tags, i.nms_kernel, i.flip) == \
            ("align", "input", "mmpose", True, 5, True)
        assert c.model.input_norm == "imagenet"
    assert hg.inference.align_corners and not hrnet.inference.align_corners
    with pytest.raises(AetrackError, match="unknown preset"):
        preset_config("mmpose-nope")


def test_inference_options_are_checked():
    with pytest.raises(AetrackError, match="inference.resize"):
        InferenceConfig(resize="stretch")
    with pytest.raises(AetrackError, match="needs inference.resize 'align'"):
        InferenceConfig(project="input")
    with pytest.raises(AetrackError, match="scale 1"):
        InferenceConfig(base_scale_tags=True, scales=(2.0, 0.5))
    with pytest.raises(AetrackError, match="quarter steps"):
        InferenceConfig(grouping="mmpose", subpixel="quadratic")
    with pytest.raises(AetrackError, match="oks_nms"):
        InferenceConfig(oks_nms=2.0)


def test_oks_nms_drops_duplicates_only():
    rng = np.random.default_rng(0)
    person = np.concatenate([rng.uniform(100, 200, (17, 2)), np.ones((17, 1))], 1)
    near = person + [1.0, -1.0, 0.0]
    far = person + [300.0, 0.0, 0.0]
    kp = np.stack([near, person, far]).astype(np.float32)
    poses = Poses(kp, np.array([0.5, 0.9, 0.7], np.float32), np.zeros((3, 1), np.float32),
                  np.zeros((3, 17, 1), np.float32))
    assert list(oks_nms(poses, 0.9)) == [1, 2]
    assert list(oks_nms(poses, 1.0)) == [1, 2, 0]


@pytest.mark.parametrize("weights, preset", [("hg_ae_small.pth", "mmpose-hourglass"),
                                             ("higherhrnet_small.pth", "mmpose-higherhrnet")])
def test_mmpose_checkpoints_run_with_their_preset(shared, recorded, weights, preset):
    """mmpose's networks (small random ones in the released layout) through the production Predictor."""
    cases, _ = recorded
    image = read_image(shared / cases[0]["image"])
    predictor = Predictor.from_checkpoint(shared / FIXTURES / weights, "cpu", preset_config(preset).inference)
    poses = predictor([image])[0]
    assert poses.keypoints.shape[1:] == (17, 3) and poses.joint_tags.shape[2] == 2  # tags of both passes
    assert np.isfinite(poses.keypoints).all()
