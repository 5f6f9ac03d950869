"""The crop of a person's region to a single-person network's input, as mmpose 0.29's top-down test path."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from aetrack.inference.inputs import warp_classic
from aetrack.model.inputs import IMAGENET_MEAN, IMAGENET_STD


def crop_transform(center, size, input_size=(256, 256)) -> np.ndarray:
    """The 2x3 affine map from image pixels to input pixels of the region `center` (x, y), `size` (w, h).

    mmpose's `get_affine_transform` without rotation: the region's centre goes to the input's centre and its
    width to the input's width (the height follows the input's aspect ratio); three points in float32, as mmpose,
    so that warped pixels come out identical.
    """
    c = np.asarray(center, np.float32).reshape(2).astype(np.float64)
    half = float(np.float32(np.asarray(size, np.float64).reshape(2)[0])) * 0.5
    out_w, out_h = float(input_size[0]), float(input_size[1])
    src = np.array([c, c + (0.0, -half), (0, 0)], np.float32)
    dst = np.array([(out_w / 2, out_h / 2), (out_w / 2, out_h / 2 - out_w / 2), (0, 0)], np.float32)
    for pts in (src, dst):  # a third point at a right angle, so that the map has no shear
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.array([-d[1], d[0]], np.float32)
    return cv2.getAffineTransform(src, dst)


def crop(image_rgb: np.ndarray, center, size, input_size=(256, 256)) -> np.ndarray:
    """The network input (3, H, W) float32 for one region of an (H, W, 3) uint8 RGB image: bilinear affine warp
    (black outside the image; OpenCV 4's arithmetic, which mmpose ran on), [0, 1], ImageNet mean/std normalised.
    `input_size` is (w, h)."""
    return crops(image_rgb, np.asarray(center)[None], np.asarray(size)[None], input_size)[0]


def crops(image: np.ndarray, centers: np.ndarray, sizes: np.ndarray, input_size=(256, 256), *,
          bgr: bool = False, norm: str = "imagenet") -> np.ndarray:
    """`crop` of many regions (P, 2) of one image: (P, 3, H, W) float32 RGB. `bgr`: the image is BGR;
    `norm`: 'imagenet' (mean/std normalised) or 'unit' ([0, 1], what aetrack's own networks take)."""
    w, h = int(input_size[0]), int(input_size[1])
    out = np.empty((len(centers), 3, h, w), np.float32)
    unit = norm == "unit"
    mean = np.zeros((3, 1, 1), np.float32) if unit else np.array(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.ones((3, 1, 1), np.float32) if unit else np.array(IMAGENET_STD, np.float32)[:, None, None]
    pixels = torch.from_numpy(np.ascontiguousarray(image)[None])
    for i, (c, s) in enumerate(zip(centers, sizes)):
        warped = warp_classic(pixels, crop_transform(c, s, input_size), w, h)[0].numpy()
        if bgr:
            warped = warped[:, :, ::-1]
        out[i] = (warped.transpose(2, 0, 1).astype(np.float32) / np.float32(255) - mean) / std
    return out
