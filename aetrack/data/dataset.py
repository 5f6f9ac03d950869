"""Training data: sources of labelled clips (synthetic, COCO, PoseTrack) behind one interface, and the
torch Dataset that augments them and builds the targets the loss needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch

from aetrack.config import AugmentConfig, TrainConfig
from aetrack.data.augment import identity_transform, jitter_colour, sample_transform, warp_image, warp_keypoints
from aetrack.data.targets import joint_indices, render_heatmaps
from aetrack.skeleton import FLIP, NUM_JOINTS


@dataclass
class ClipSample:
    """A labelled clip. images (T, H, W, 3) uint8 BGR; keypoints (T, M, 17, 3) x, y (image pixel centres),
    visibility (0 = unlabelled); person slot m is the same person in every frame; ignore (T, H, W) uint8,
    1 where people are present but unlabelled (crowds, unannotated people), or None; labelled (17,) bool,
    the joints the dataset annotates at all (PoseTrack has no eyes), or None for all."""

    images: np.ndarray
    keypoints: np.ndarray
    ignore: np.ndarray | None = None
    labelled: np.ndarray | None = None  # (17,) bool: joints this dataset annotates (None: all)


class ClipSource(Protocol):
    """What a dataset of clips provides: a length and clip number i (deterministic for i)."""

    clip_length: int

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> ClipSample: ...


class TrainingDataset(torch.utils.data.Dataset):
    """Clips -> augmented network inputs and targets, one item per clip.

    Item: images (T, S, S, 3) uint8 BGR, heatmaps (T, 17, S/4, S/4) float32, masks (T, S/4, S/4) float32
    (1 = use the pixel), joints (T, M, 17, 2) int64 [flat index, visible] for the tag losses, joint_weights
    (T, 17) float32 (0 for joints the source never labels). For each further stride s of `extra_strides`
    (HigherHRNet's 2): heatmaps_s{s} (T, 17, S/s, S/s) and masks_s{s}, with the same sigma in map pixels.
    """

    def __init__(self, source: ClipSource, input_size: int, train: TrainConfig, augment: bool = True,
                 seed: int = 0, stride: int = 4, extra_strides: tuple[int, ...] = ()) -> None:
        self.source, self.size, self.stride = source, input_size, stride
        self.extra_strides = tuple(s for s in extra_strides if s != stride)
        self.max_people, self.augment_cfg = train.max_people, train.augment
        self.augment, self.seed = augment, seed
        # training crops keep inference scale (input_size) but cover only crop x crop input pixels
        self.crop = train.crop_size if augment and 0 < train.crop_size < input_size else input_size
        # sigma follows the full output map (reference: output size / 64), not the crop's
        self.sigma = train.sigma or input_size / stride / 64

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        clip = self.source[index]
        rng = np.random.default_rng([self.seed, index])
        hw = clip.images.shape[1:3]
        size = self.crop
        t = (sample_transform(rng, hw, self.size, self.augment_cfg, size) if self.augment
             else identity_transform(hw, self.size))
        out_hw = (size // self.stride, size // self.stride)
        images, heatmaps, masks, joints = [], [], [], []
        extra: dict[str, list[np.ndarray]] = {}
        for f in range(len(clip.images)):
            img = warp_image(clip.images[f], t, size)
            images.append(jitter_colour(img, t) if self.augment else img)
            kp = warp_keypoints(clip.keypoints[f], t, size)
            ignore = clip.ignore[f] if clip.ignore is not None else None
            kp_out = _to_map(kp, self.stride)
            heatmaps.append(render_heatmaps(kp_out, out_hw, self.sigma))
            joints.append(joint_indices(kp_out, out_hw, self.max_people))
            masks.append(self._mask(ignore, t, size, out_hw))
            for s in self.extra_strides:
                hw_s = (size // s, size // s)
                extra.setdefault(f"heatmaps_s{s}", []).append(render_heatmaps(_to_map(kp, s), hw_s, self.sigma))
                extra.setdefault(f"masks_s{s}", []).append(self._mask(ignore, t, size, hw_s))
        labelled = np.ones(NUM_JOINTS, bool) if clip.labelled is None else np.asarray(clip.labelled, bool)
        if t.flip:
            labelled = labelled[FLIP]
        weights = np.repeat(labelled[None].astype(np.float32), len(images), 0)
        return {"images": torch.from_numpy(np.stack(images)), "heatmaps": torch.from_numpy(np.stack(heatmaps)),
                "masks": torch.from_numpy(np.stack(masks)), "joints": torch.from_numpy(np.stack(joints)),
                "joint_weights": torch.from_numpy(weights),
                **{k: torch.from_numpy(np.stack(v)) for k, v in extra.items()}}

    @staticmethod
    def _mask(ignore: np.ndarray | None, t, size: int, out_hw: tuple[int, int]) -> np.ndarray:
        if ignore is None or not ignore.any():
            return np.ones(out_hw, np.float32)
        warped = warp_image(ignore.astype(np.uint8) * 255, t, size, cv2.INTER_NEAREST)
        small = cv2.resize(warped, out_hw[::-1], interpolation=cv2.INTER_AREA)
        return (small < 128).astype(np.float32)


def _to_map(keypoints: np.ndarray, stride: int) -> np.ndarray:
    """Input-pixel keypoints (..., 3) -> heatmap pixel-edge coordinates of a map with this stride."""
    out = keypoints.copy()
    out[..., :2] = (keypoints[..., :2] + 0.5) / stride
    return out


def collate_clips(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack clips and flatten (clips, T) into one frame axis; frames of a clip stay consecutive."""
    return {k: torch.cat([it[k] for it in items]) for k in items[0]}


def make_source(train: TrainConfig, seed: int = 0) -> ClipSource:
    """The clip source a training config names."""
    data = train.data
    if data.kind == "synth":
        from aetrack.data.sources import SynthClips
        return SynthClips(train.clip_length, data.samples_per_epoch, tuple(data.synth_people),
                          tuple(data.synth_size), seed)
    if data.kind == "coco":
        from aetrack.data.sources import CocoImages
        return CocoImages(data.annotations, data.images)
    from aetrack.data.sources import PoseTrackClips
    return PoseTrackClips(data.annotations, data.images, train.clip_length)


__all__ = ["ClipSample", "ClipSource", "TrainingDataset", "collate_clips", "make_source", "AugmentConfig"]
