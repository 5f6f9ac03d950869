"""Where an image sits in a network input, and how map coordinates go back to image pixels.

Two placements, chosen by `inference.resize`:
- `Letterbox` (ours): the image is resized (aspect kept, long side to input_size x scale) and padded right/bottom
  to multiples of 64. Image and input keypoints use pixel centres (x = 0 is the centre of the first column).
  Heatmap coordinates use pixel edges, as the reference decoder and our training targets do: heatmap pixel i
  spans [i, i + 1) and covers input pixels [stride*i, stride*(i+1)), so heatmap x = (input x + 0.5) / stride.
- `Aligned` (mmpose 0.29's bottom-up resize-align): the image is warped about its centre so its short side
  becomes input_size x scale, both sides multiples of 64; maps go back with mmpose's `transform_preds`
  (map x * stride is an input pixel centre), so models trained that way get the coordinates they were scored with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

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


@dataclass(frozen=True)
class Aligned:
    """mmpose's resize-align: input = image scaled about `center`; `scale` (w, h) is the image region the input
    covers, in units of 200 pixels (mmpose's convention). Sizes are pixels; input sides are multiples of 64."""

    image_h: int
    image_w: int
    center: tuple[float, float]
    scale: tuple[float, float]
    input_h: int
    input_w: int

    def map_size(self, stride: int = 4) -> tuple[int, int]:
        return self.input_h // stride, self.input_w // stride

    def _per_map_pixel(self, stride: float) -> np.ndarray:
        """Image pixels per map pixel (x, y), as mmpose's transform_preds computes them."""
        h, w = self.input_h / stride, self.input_w / stride
        return np.array([self.scale[0] * 200.0 / w, self.scale[1] * 200.0 / h])

    def _origin(self) -> np.ndarray:
        return np.array(self.center, np.float64) - np.array(self.scale, np.float64) * 100.0

    def heatmap_to_image(self, xy: np.ndarray, stride: int = 4) -> np.ndarray:
        """Map coordinates (..., 2) on the grid of this stride -> original image pixel coordinates (..., 2)."""
        return np.asarray(xy, np.float64) * self._per_map_pixel(stride) + self._origin()

    def image_to_heatmap(self, xy: np.ndarray, stride: int = 4) -> np.ndarray:
        """Original image pixel coordinates (..., 2) -> map coordinates (..., 2) on the grid of this stride."""
        return (np.asarray(xy, np.float64) - self._origin()) / self._per_map_pixel(stride)

    def affine(self) -> np.ndarray:
        """(2, 3) float64 matrix taking image pixel centres to input pixel centres, built as mmpose builds it
        (three float32 points, OpenCV's solver), so the warp is mmpose's to the last bit."""
        import cv2

        half = self.scale[0] * 200.0 * 0.5  # mmpose sizes the warp by the width only: the scale keeps the aspect
        cx, cy = self.center
        src = np.array([[cx, cy], [cx, cy - half], [cx - half, cy - half]], np.float32)
        w, h = self.input_w, self.input_h
        dst = np.array([[w * 0.5, h * 0.5], [w * 0.5, h * 0.5 - w * 0.5], [0.0, h * 0.5 - w * 0.5]], np.float32)
        return cv2.getAffineTransform(src, dst)


Placement = Union[Letterbox, Aligned]


def _ceil64(x: float) -> int:
    return int(np.ceil(x / MULTIPLE)) * MULTIPLE


def aligned(image_h: int, image_w: int, input_size: int, scale: float = 1.0, min_scale: float = 1.0) -> Aligned:
    """mmpose's resize-align: the short side to input_size x scale, rounded so that at the smallest test scale
    `min_scale` both sides are multiples of 64 (every scale is then an exact multiple of that one)."""
    if image_h < 1 or image_w < 1:
        raise ValueError(f"image size must be positive, got {image_w}x{image_h}")
    h, w = image_h, image_w
    ratio = scale / min_scale
    short_min = _ceil64(min_scale * input_size)
    if w < h:
        in_w = int(short_min * ratio)
        in_h = int(_ceil64(short_min / w * h) * ratio)
        scale_wh = (w / 200.0, in_h / in_w * w / 200.0)
    else:
        in_h = int(short_min * ratio)
        in_w = int(_ceil64(short_min / h * w) * ratio)
        scale_wh = (in_w / in_h * h / 200.0, h / 200.0)
    center = (float(round(w / 2.0)), float(round(h / 2.0)))  # Python's round, ties to even, as mmpose
    return Aligned(h, w, center, scale_wh, in_h, in_w)


def placements(image_h: int, image_w: int, input_size: int, scales: tuple[float, ...], resize: str
               ) -> tuple[list[Placement], Placement]:
    """Where the image sits in the input at each test scale, and at scale 1 (the grid people are decoded on):
    `resize` 'letterbox' or 'align' (mmpose's sizes depend on the smallest scale)."""
    if resize == "align":
        low = min(scales)
        return ([aligned(image_h, image_w, input_size, s, low) for s in scales],
                aligned(image_h, image_w, input_size, 1.0, low))
    return [letterbox(image_h, image_w, input_size, s) for s in scales], letterbox(image_h, image_w, input_size, 1.0)
