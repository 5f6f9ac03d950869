"""`Predictor`: images in, people (in original image pixels) out; the network part of the pipeline."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from aetrack.config import Config, InferenceConfig
from aetrack.errors import AetrackError
from aetrack.inference.geometry import Letterbox, letterbox
from aetrack.inference.maps import Maps, merge_flip, merge_scales, resample, split_channels, unflip
from aetrack.poses import Poses


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when available; an unavailable device is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AetrackError(f"device '{name}' requested but CUDA is not available (use --device cpu)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise AetrackError(f"unknown device '{name}' (use auto, cpu or cuda)") from None


def to_input(images: torch.Tensor, box: Letterbox, channel_order: str) -> torch.Tensor:
    """Batch of same-size images (N, H, W, 3) uint8 BGR -> network input (N, 3, input_h, input_w) in [0, 1]."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    if channel_order == "RGB":
        x = x.flip(1)
    if (box.resized_h, box.resized_w) != (box.image_h, box.image_w):
        x = F.interpolate(x, size=(box.resized_h, box.resized_w), mode="bilinear", align_corners=False,
                          antialias=box.ratio < 1)
    return F.pad(x, (0, box.input_w - box.resized_w, 0, box.input_h - box.resized_h))


@dataclass
class FrameMaps:
    """Merged maps of a batch of same-size images and the letterbox of their grid."""

    maps: Maps
    box: Letterbox


class Predictor:
    """Runs a stacked-hourglass model on images and decodes people, with optional flip and multi-scale test."""

    def __init__(self, model: torch.nn.Module, config: Config, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
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

    def _forward(self, x: torch.Tensor) -> Maps:
        """Last stack's output of the network, split into heatmaps and tags."""
        out = self.model(x)
        return split_channels(out[:, -1].float(), self.config.model)

    @torch.inference_mode()
    def maps(self, images: torch.Tensor) -> FrameMaps:
        """Merged heatmaps/tags for same-size images (N, H, W, 3) uint8 BGR, on the grid of scale 1."""
        n, h, w, _ = images.shape
        size, stride = self.config.model.input_size, self.config.model.stride
        base = letterbox(h, w, size, 1.0)
        images = images.to(self.device, non_blocking=True)
        per_scale = []
        for scale in self.inference.scales:
            box = letterbox(h, w, size, scale)
            x = to_input(images, box, self.inference.channel_order)
            if self.inference.flip:
                both = self._forward(torch.cat([x, x.flip(-1)]))
                plain = Maps(both.heatmaps[:n], both.tags[:n], both.temporal[:n])
                mirrored = unflip(Maps(both.heatmaps[n:], both.tags[n:], both.temporal[n:]))
                maps = merge_flip(plain, mirrored)
            else:
                maps = self._forward(x)
            per_scale.append(resample(maps, box, base, stride))
        return FrameMaps(merge_scales(per_scale), base)

    def decode(self, frame_maps: FrameMaps) -> list[Poses]:
        """People of each image of the batch, keypoints in original image pixels."""
        from aetrack.decode import decode_batch

        m = frame_maps.maps
        temporal = m.temporal if m.temporal.shape[-1] else None
        tags = m.tags
        if temporal is not None and self.inference.group_with_temporal:
            tags = torch.cat([tags, temporal], -1)
        people = decode_batch(m.heatmaps, tags, self.inference, temporal=temporal)
        return [to_image_pixels(p, frame_maps.box, self.config.model.stride) for p in people]

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


def to_image_pixels(poses: Poses, box: Letterbox, stride: int) -> Poses:
    """Poses with keypoints in heatmap pixels -> the same people in original image pixels (found joints only)."""
    if len(poses) == 0:
        return poses
    kp = poses.keypoints.copy()
    found = kp[..., 2] > 0
    xy = box.heatmap_to_image(kp[..., :2], stride).astype(np.float32)
    kp[..., :2] = np.where(found[..., None], xy, 0.0)
    return replace(poses, keypoints=kp)
