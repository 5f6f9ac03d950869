"""Maps -> people with mmpose's bottom-up test path, without a network: for checks against mmpose and for maps
computed elsewhere. The same functions run inside `Predictor` when a config selects that path.

    group_outputs(outputs, image_size, scales=..., flip=..., preset=...)  network outputs -> people, scores
    preprocess(image, preset, scale, scales)                             image -> mmpose's network input
    preset_config(preset)                                                the Config a preset names

Presets are the YAML files of `configs/` for mmpose's released networks; their `inference` sections hold
mmpose 0.29's test settings.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch

from aetrack.config import Config, load_config
from aetrack.errors import AetrackError
from aetrack.inference.geometry import placements
from aetrack.inference.inputs import network_input
from aetrack.inference.maps import merge_all, output_maps
from aetrack.inference.people import decode_maps

# preset name -> config file in configs/ (network and mmpose's test settings for it)
PRESETS = {
    "mmpose-hourglass": "mmpose_hourglass_ae_512",
    "mmpose-higherhrnet": "higherhrnet_w32_512",
}


def preset_config(preset: str) -> Config:
    """The config of a preset: mmpose's network and its bottom-up test settings."""
    if preset not in PRESETS:
        raise AetrackError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    return load_config(PRESETS[preset])


def group_outputs(outputs: Sequence[Sequence[Sequence[np.ndarray] | np.ndarray]], image_size: tuple[int, int], *,
                  scales: Sequence[float], flip: bool, preset: str) -> tuple[np.ndarray, np.ndarray]:
    """People of one image from what the network returned for it, as mmpose 0.29's bottom-up test finds them.

    outputs[s][f]: the network's answer (a list of maps, or a stacked (1, stacks, C, h, w) array) for test scale
    scales[s] (the input `preprocess` gives) and f = 0 the image, 1 the mirrored image (only with `flip`).
    image_size: (width, height) of the original image. Returns people (P, 17, 3 + D): x, y, score and tags per
    joint, in original image pixels; scores (P,), mean joint score before refinement.
    """
    config = preset_config(preset)
    try:
        inference = replace(config.inference, scales=tuple(float(s) for s in scales), flip=bool(flip))
    except AetrackError as exc:
        raise AetrackError(f"group_outputs: {exc}") from None
    if len(outputs) != len(inference.scales) or any(len(o) < 1 + inference.flip for o in outputs):
        raise AetrackError(f"group_outputs: expected outputs for {len(inference.scales)} scales with "
                           f"{1 + inference.flip} passes each, got {[len(o) for o in outputs]}")
    width, height = image_size
    places, base = placements(int(height), int(width), config.model.input_size, inference.scales, inference.resize)
    passes = [(output_maps(o[0], config.model), output_maps(o[1], config.model) if inference.flip else None)
              for o in outputs]
    poses = decode_maps(merge_all(passes, places, base, inference), inference)[0]
    return np.concatenate([poses.keypoints, poses.joint_tags], -1), poses.scores


def preprocess(image: np.ndarray, preset: str, scale: float = 1.0, scales: Sequence[float] | None = None
               ) -> np.ndarray:
    """An image (H, W, 3) uint8 BGR, as read from its file -> the preset network's input (1, 3, h, w) float32
    at test scale `scale` of `scales` (default: that scale alone): for mmpose's presets, its resize-align warp,
    RGB, ImageNet mean and std."""
    config = preset_config(preset)
    scales = tuple(scales) if scales is not None else (scale,)
    if scale not in scales:
        raise AetrackError(f"preprocess: scale {scale} is not one of the test scales {list(scales)}")
    h, w = image.shape[:2]
    places, _ = placements(h, w, config.model.input_size, scales, config.inference.resize)
    x = network_input(torch.from_numpy(np.ascontiguousarray(image)[None]), places[list(scales).index(scale)],
                      config.inference.channel_order, config.model)
    return x.numpy()
