"""Letterbox geometry and multi-scale resampling: coordinates round-trip between image, input and heatmaps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aetrack.inference.geometry import letterbox
from aetrack.inference.maps import Maps, resample


@pytest.mark.parametrize("h, w, size, scale", [(360, 640, 256, 1.0), (480, 480, 512, 0.5), (1080, 1920, 512, 2.0),
                                               (100, 37, 128, 1.0), (577, 1023, 256, 1.5)])
def test_letterbox_fits_long_side_and_pads_to_64(h, w, size, scale):
    box = letterbox(h, w, size, scale)
    assert box.input_h % 64 == 0 and box.input_w % 64 == 0
    assert max(box.resized_h, box.resized_w) == round(size * scale)
    assert box.input_h - box.resized_h < 64 and box.input_w - box.resized_w < 64
    xy = np.random.default_rng(0).uniform(0, [w, h], size=(50, 2))
    assert np.allclose(box.heatmap_to_image(box.image_to_heatmap(xy)), xy)


def test_heatmap_pixel_maps_to_the_centre_of_its_input_block():
    box = letterbox(256, 256, 256)  # identity resize: image pixels are input pixels
    # heatmap pixel 3 spans [3, 4): its centre 3.5 covers input pixels 12..15, centre 13.5
    assert np.allclose(box.heatmap_to_image(np.array([3.5, 3.5])), [13.5, 13.5])


def _peak_maps(box, xy_image, stride=4):
    """Maps with one sharp Gaussian peak at an image position, as a network would give at this letterbox."""
    h, w = box.map_size(stride)
    cx, cy = box.image_to_heatmap(np.asarray(xy_image, float), stride) - 0.5  # pixel index coordinates
    yy, xx = np.mgrid[0:h, 0:w]
    heat = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 1.5**2)).astype(np.float32)
    heat = torch.from_numpy(np.broadcast_to(heat, (1, 17, h, w)).copy())
    return Maps(heat, torch.zeros(1, 17, h, w, 1), torch.zeros(1, 17, h, w, 0))


def _subpixel_peak(heat):
    """Peak of a Gaussian blob (pixel index coordinates): a parabola through the log values around the maximum."""
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    def offset(a, b, c):
        la, lb, lc = np.log([a, b, c])
        return 0.5 * (la - lc) / (la - 2 * lb + lc)
    return np.array([x + offset(*heat[y, x - 1:x + 2]), y + offset(*heat[y - 1:y + 2, x])])


@pytest.mark.parametrize("scale", [0.5, 1.5, 2.0])
def test_resampled_scale_puts_the_peak_where_the_base_scale_does(scale):
    h, w, target = 400, 700, np.array([431.0, 207.0])
    base, other = letterbox(h, w, 256, 1.0), letterbox(h, w, 256, scale)
    moved = resample(_peak_maps(other, target), other, base, 4)
    assert moved.heatmaps.shape[-2:] == base.map_size()
    found = base.heatmap_to_image(_subpixel_peak(moved.heatmaps[0, 0].numpy()) + 0.5)
    assert np.abs(found - target).max() < 1.0 / base.ratio  # a quarter of the stride, in image pixels
