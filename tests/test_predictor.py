"""Inference geometry end to end: known keypoints in an image come back at the right pixels through
letterboxing, flip test and multiple scales (a stand-in network that 'sees' a bright dot)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aetrack.config import Config, InferenceConfig, ModelConfig
from aetrack.inference.geometry import letterbox
from aetrack.inference.predictor import Predictor


class DotNetwork(torch.nn.Module):
    """Heatmaps of every joint = the red channel blurred and pooled to stride 4; tags 0. Like a real network,
    its output is equivariant to shifts and mirrors of the input."""

    def __init__(self, model: ModelConfig) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, :1]  # RGB input: channel 0 is red
        blurred = F.avg_pool2d(F.pad(red, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
        heat = F.avg_pool2d(blurred, 4)
        heat = heat / heat.amax((2, 3), keepdim=True).clamp_min(1e-6)
        n, _, h, w = heat.shape
        c = self.model.out_channels
        out = torch.zeros(n, 1, c, h, w)
        out[:, 0, :17] = heat
        return out


def _image(h: int, w: int, xy: tuple[float, float], radius: int) -> np.ndarray:
    """A black BGR image with a red disc centred at xy (pixel centres)."""
    yy, xx = np.mgrid[0:h, 0:w]
    disc = ((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) <= radius ** 2
    img = np.zeros((h, w, 3), np.uint8)
    img[disc, 2] = 255
    return img


@pytest.mark.parametrize("h, w, xy, flip, scales", [
    (360, 640, (401.0, 133.0), False, (1.0,)),
    (360, 640, (401.0, 133.0), True, (1.0,)),
    (480, 300, (100.0, 350.0), True, (1.0, 0.5, 1.5)),
    (211, 517, (30.0, 180.0), False, (2.0, 1.0)),
    (1080, 1920, (1500.0, 300.0), True, (0.75, 1.0)),
])
def test_known_point_maps_back_to_image_pixels(h, w, xy, flip, scales):
    model = ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=256)
    config = Config(model=model, inference=InferenceConfig(flip=flip, scales=scales, refine=False,
                                                           detection_threshold=0.3))
    predictor = Predictor(DotNetwork(model), config, "cpu")
    radius = max(4, round(8 / letterbox(h, w, 256).ratio))  # a disc a few input pixels wide at every scale
    poses = predictor([_image(h, w, xy, radius)])[0]
    assert len(poses) == 1
    found = poses.keypoints[0, :, 2] > 0
    assert found.all()
    quarter_stride_in_image = 1.0 / letterbox(h, w, 256).ratio  # stride 4 / 4, in image pixels
    err = np.abs(poses.keypoints[0, :, :2] - np.array(xy)).max()
    assert err <= quarter_stride_in_image + 1e-6, err


def test_flip_merging_swaps_left_and_right_maps():
    from aetrack.inference.maps import Maps, unflip
    from aetrack.skeleton import FLIP

    heat = torch.rand(1, 17, 6, 8)
    maps = Maps(heat, torch.rand(1, 17, 6, 8, 1), torch.zeros(1, 17, 6, 8, 0))
    back = unflip(unflip(maps))
    assert torch.equal(back.heatmaps, heat) and torch.equal(back.tags, maps.tags)
    once = unflip(maps)
    assert torch.equal(once.heatmaps[0, 5], heat[0, FLIP[5]].flip(-1))


def test_grouping_can_use_temporal_tags_too():
    model = ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, temporal_dim=2, input_size=128)

    class TwoDots(DotNetwork):
        def forward(self, x):
            out = super().forward(x)
            out[:, 0, 17 + 17:] = 5.0  # temporal tags: constant, 2-D
            return out

    for together, dims in ((False, 1), (True, 3)):
        config = Config(model=model, inference=InferenceConfig(refine=False, group_with_temporal=together,
                                                               detection_threshold=0.3))
        poses = Predictor(TwoDots(model), config, "cpu")([_image(128, 128, (40.0, 60.0), 6)])[0]
        assert len(poses) == 1 and poses.tags.shape == (1, dims)
        assert np.allclose(poses.temporal, 5.0)
