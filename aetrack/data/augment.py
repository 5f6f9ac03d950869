"""Training augmentation: one random affine (fit, zoom, rotation, shift, mirror) and colour jitter per clip.

Keypoints are in pixel-centre coordinates, which is the convention `cv2.warpAffine` uses, so a matrix that
maps image pixels to input pixels moves images and keypoints alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aetrack.config import AugmentConfig
from aetrack.skeleton import FLIP


@dataclass(frozen=True)
class ClipTransform:
    """Image -> input affine (2, 3), whether to mirror, and colour gains; shared by every frame of a clip."""

    matrix: np.ndarray
    flip: bool
    brightness: float
    contrast: float
    saturation: float


def sample_transform(rng: np.random.Generator, image_hw: tuple[int, int], input_size: int,
                     cfg: AugmentConfig, crop: int | None = None) -> ClipTransform:
    """Draw a random transform that fits the image into a square input, then zooms, rotates and shifts.

    With `crop` smaller than `input_size`, people keep the size they have at `input_size` but only a
    crop x crop window around a random point of the image is kept: cheaper steps, no padding to learn from.
    """
    h, w = image_hw
    zoom = rng.uniform(*cfg.scale) * input_size / max(h, w)
    angle = rng.uniform(-cfg.rotation, cfg.rotation)
    if crop is None or crop >= input_size:
        centre = np.array([(w - 1) / 2, (h - 1) / 2])
        target = (input_size - 1) / 2 + rng.uniform(-cfg.translate, cfg.translate, size=2) * input_size
    else:
        centre = rng.uniform([0, 0], [w - 1, h - 1])
        target = np.full(2, (crop - 1) / 2)
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, zoom)
    matrix[:, 2] += target - centre
    c = cfg.color
    return ClipTransform(matrix, bool(rng.random() < cfg.flip), rng.uniform(-c, c) * 255 * 0.5,
                         rng.uniform(1 - c, 1 + c), rng.uniform(1 - c, 1 + c))


def identity_transform(image_hw: tuple[int, int], input_size: int) -> ClipTransform:
    """Fit the image into the square input without randomness (validation)."""
    return sample_transform(np.random.default_rng(0), image_hw, input_size,
                            AugmentConfig(scale=(1.0, 1.0), rotation=0.0, translate=0.0, flip=0.0, color=0.0))


def warp_image(image: np.ndarray, t: ClipTransform, size: int, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp an (H, W[, C]) image into the (size, size) input; mirrored when the transform says so."""
    out = cv2.warpAffine(image, t.matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(out[:, ::-1]) if t.flip else out


def warp_keypoints(keypoints: np.ndarray, t: ClipTransform, size: int) -> np.ndarray:
    """Keypoints (..., 17, 3) in image pixels -> input pixels; mirrored ones swap left and right joints."""
    out = keypoints.astype(np.float32, copy=True)
    xy = keypoints[..., :2] @ t.matrix[:, :2].T + t.matrix[:, 2]
    out[..., :2] = xy
    if t.flip:
        out[..., 0] = size - 1 - out[..., 0]
        out = out[..., FLIP, :]
    out[..., :2] = np.where(out[..., 2:3] > 0, out[..., :2], 0)
    return out


def jitter_colour(image: np.ndarray, t: ClipTransform) -> np.ndarray:
    """Brightness, contrast and saturation changes on a BGR uint8 image."""
    img = image.astype(np.float32)
    mean = img.mean()
    img = (img - mean) * t.contrast + mean + t.brightness
    grey = img.mean(axis=2, keepdims=True)
    img = (img - grey) * t.saturation + grey
    return np.clip(img, 0, 255).astype(np.uint8)
