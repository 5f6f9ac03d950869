"""Letterbox geometry: an image is resized (aspect kept) and padded right/bottom to multiples of 64.

Coordinates: image and input keypoints use pixel centres (x = 0 is the centre of the first column).
Heatmap coordinates use pixel edges, as the reference decoder and our training targets do: heatmap pixel i
spans [i, i + 1) and covers input pixels [stride*i, stride*(i+1)), so heatmap x = (input x + 0.5) / stride.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MULTIPLE = 64


@dataclass(frozen=True)
class Letterbox:
    """How one image sits in a network input: input = image * ratio, padded to (input_h, input_w)."""

    image_h: int
    image_w: int
    ratio: float
    input_h: int
    input_w: int

    @property
    def resized_h(self) -> int:
        return max(1, round(self.image_h * self.ratio))

    @property
    def resized_w(self) -> int:
        return max(1, round(self.image_w * self.ratio))

    def map_size(self, stride: int = 4) -> tuple[int, int]:
        return self.input_h // stride, self.input_w // stride

    def heatmap_to_image(self, xy: np.ndarray, stride: int = 4) -> np.ndarray:
        """Heatmap pixel coordinates (..., 2) -> original image pixel coordinates (..., 2)."""
        return self.input_to_image(np.asarray(xy, np.float64) * stride - 0.5)

    def image_to_heatmap(self, xy: np.ndarray, stride: int = 4) -> np.ndarray:
        """Original image pixel coordinates (..., 2) -> heatmap pixel coordinates (..., 2)."""
        return (self.image_to_input(xy) + 0.5) / stride

    def input_to_image(self, xy: np.ndarray) -> np.ndarray:
        """Network input pixel coordinates (..., 2) -> original image pixel coordinates (..., 2)."""
        return _scale_centres(xy, self.image_w / self.resized_w, self.image_h / self.resized_h)

    def image_to_input(self, xy: np.ndarray) -> np.ndarray:
        """Original image pixel coordinates (..., 2) -> network input pixel coordinates (..., 2)."""
        return _scale_centres(xy, self.resized_w / self.image_w, self.resized_h / self.image_h)


def _scale_centres(xy: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Pixel-centre coordinates scaled per axis: the pixel edges (x + 0.5) scale, not the centres."""
    xy = np.asarray(xy, np.float64)
    out = np.empty_like(xy)
    out[..., 0] = (xy[..., 0] + 0.5) * sx - 0.5
    out[..., 1] = (xy[..., 1] + 0.5) * sy - 0.5
    return out


def letterbox(image_h: int, image_w: int, input_size: int, scale: float = 1.0) -> Letterbox:
    """Fit the image's long side to `input_size * scale`, pad both sides up to multiples of 64."""
    if image_h < 1 or image_w < 1:
        raise ValueError(f"image size must be positive, got {image_w}x{image_h}")
    target = max(MULTIPLE, input_size * scale)
    ratio = target / max(image_h, image_w)
    rh, rw = max(1, round(image_h * ratio)), max(1, round(image_w * ratio))
    return Letterbox(image_h, image_w, ratio,
                     MULTIPLE * math.ceil(rh / MULTIPLE), MULTIPLE * math.ceil(rw / MULTIPLE))
