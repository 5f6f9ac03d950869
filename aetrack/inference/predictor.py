"""`Predictor`: images in, people (in original image pixels) out; the network part of the pipeline."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from aetrack.config import Config, InferenceConfig
from aetrack.errors import AetrackError
from aetrack.inference.geometry import placements
from aetrack.inference.inputs import network_input
from aetrack.inference.maps import FrameMaps, Maps, merge_all, output_maps, take
from aetrack.inference.people import decode_maps
from aetrack.inference.runtime import Network, resolve_device, to_device
from aetrack.poses import Poses


class Predictor:
    """Runs a bottom-up network (ours or mmpose's) on images and decodes people, with optional flip and
    multi-scale test; `config.inference` says how (aetrack's path, or mmpose's bottom-up test path) and how the
    network runs (precision, layout, compilation; `model` is the `Network` wrapping the given network)."""

    def __init__(self, model: torch.nn.Module, config: Config, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device) if isinstance(device, str) else device
        inference = config.inference
        self.model = Network(model, self.device, inference.precision, inference.channels_last, inference.compile)
        self.config = config

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto",
                        inference: InferenceConfig | None = None) -> "Predictor":
        from aetrack.model import load_checkpoint_model

        model, ckpt = load_checkpoint_model(path)
        config = ckpt.config if inference is None else replace(ckpt.config, inference=inference)
        return cls(model, config, device)

    @property
    def inference(self) -> InferenceConfig:
        return self.config.inference

    def _forward(self, x: torch.Tensor) -> list[Maps]:
        """The maps of each output the network answers with (a stacked network's last stack)."""
        return output_maps(self.model(x), self.config.model)

    @torch.inference_mode()
    def maps(self, images: torch.Tensor) -> FrameMaps:
        """Merged heatmaps/tags for same-size images (N, H, W, 3) uint8 BGR, on the grid of scale 1."""
        n, h, w, _ = images.shape
        inference, model = self.inference, self.config.model
        places, base = placements(h, w, model.input_size, inference.scales, inference.resize)
        images = to_device(images, self.device)
        outputs = []
        for place in places:
            x = network_input(images, place, inference.channel_order, model)
            if inference.flip:
                both = self._forward(torch.cat([x, x.flip(-1)]))
                outputs.append(([take(m, slice(0, n)) for m in both], [take(m, slice(n, None)) for m in both]))
            else:
                outputs.append((self._forward(x), None))
        return merge_all(outputs, places, base, inference)

    def decode(self, frame_maps: FrameMaps) -> list[Poses]:
        """People of each image of the batch, keypoints in original image pixels."""
        return decode_maps(frame_maps, self.inference)

    def __call__(self, images: Sequence[np.ndarray] | np.ndarray) -> list[Poses]:
        """People of each image (H, W, 3) uint8 BGR; images of different sizes are run in same-size groups."""
        images = list(images)
        results: list[Poses | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, img in enumerate(images):
            if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise AetrackError(f"image {i}: expected an (H, W, 3) uint8 array, got "
                                   f"{getattr(img, 'shape', type(img).__name__)} {getattr(img, 'dtype', '')}")
            groups.setdefault(img.shape, []).append(i)
        for idx in groups.values():
            batch = torch.from_numpy(np.stack([images[i] for i in idx]))
            for i, poses in zip(idx, self.decode(self.maps(batch))):
                results[i] = poses
        return results  # type: ignore[return-value]

