"""Training data for the single-person (top-down) network of the refinement step: one person per crop.

Each item takes a few people of one clip's first frame and crops each the way refinement will at test time
(a box around the person's joints, `box_to_center_scale`), with mmpose's top-down augmentation on top:
random scale and rotation of the region, horizontal mirror, and half-body crops (only the upper or the lower
joints' box, so that the network learns people cut off by the frame or by the multi-person decoder).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from aetrack.data.dataset import ClipSource
from aetrack.refine.boxes import box_to_center_scale, keypoint_boxes
from aetrack.skeleton import FLIP, JOINT_INDEX, NUM_JOINTS

# mmpose's COCO joint weights: limbs' ends are harder and count more
JOINT_WEIGHTS = np.array([1, 1, 1, 1, 1, 1, 1, 1.2, 1.2, 1.5, 1.5, 1, 1, 1.2, 1.2, 1.5, 1.5], np.float32)
UPPER = np.array([JOINT_INDEX[n] < JOINT_INDEX["left_hip"] for n in JOINT_INDEX])  # head, arms


def crop_matrix(center: np.ndarray, size: np.ndarray, input_size: int, rotation: float = 0.0) -> np.ndarray:
    """Image -> input pixels (2, 3) of the region `center`, `size` (w, h) rotated by `rotation` degrees; without
    rotation this is `crop_transform` (the region's centre at input pixel input_size / 2)."""
    m = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), rotation, input_size / float(size[0]))
    m[:, 2] += input_size / 2 - np.asarray(center, np.float64)
    return m


def gaussian_heatmaps(xy: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """Heatmaps (J, size, size) float32 with a peak-1 Gaussian centred at each joint's continuous position
    xy (J, 2) in heatmap pixels (unbiased targets: the peak need not sit on a pixel)."""
    g = np.arange(size, dtype=np.float32)
    gx = np.exp(-((g[None, :] - xy[:, :1]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((g[None, :] - xy[:, 1:]) ** 2) / (2 * sigma**2))
    return (gy[:, :, None] * gx[:, None, :]).astype(np.float32)


class PersonCrops(torch.utils.data.Dataset):
    """Clips -> `people` person crops per item.

    Item: images (people, S, S, 3) uint8 BGR, heatmaps (people, 17, S/4, S/4) float32, joint_weights
    (people, 17) float32 (0 for joints not labelled or off the crop; mmpose's per-joint weights otherwise).
    A clip with fewer suitable people repeats them; one with none gives crops of zero weight.
    """

    def __init__(self, source: ClipSource, input_size: int, *, people: int = 4, sigma: float = 0.0,
                 box_margin: float = 1.2, min_joints: int = 4, scale: float = 0.35, rotation: float = 40.0,
                 rotation_prob: float = 0.6, flip: float = 0.5, half_body: float = 0.3, seed: int = 0,
                 augment: bool = True) -> None:
        self.source, self.size, self.people = source, input_size, people
        self.out = input_size // 4
        self.sigma = sigma or self.out / 32  # 2 pixels on mmpose's 64 x 64 maps
        self.box_margin, self.min_joints = box_margin, min_joints
        self.scale, self.rotation, self.rotation_prob = scale, rotation, rotation_prob
        self.flip, self.half_body, self.seed, self.augment = flip, half_body, seed, augment

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        clip = self.source[index]
        rng = np.random.default_rng([self.seed, index, 11])
        image, people = clip.images[0], np.asarray(clip.keypoints[0], np.float32)
        labelled = np.ones(NUM_JOINTS, bool) if clip.labelled is None else np.asarray(clip.labelled, bool)
        suitable = np.flatnonzero((people[..., 2] > 0).sum(-1) >= self.min_joints)
        images, heatmaps, weights = [], [], []
        for k in range(self.people):
            if len(suitable):
                p = suitable[k % len(suitable)] if k < len(suitable) else rng.choice(suitable)
                img, kp = self._crop(image, people[p], rng)
                w = JOINT_WEIGHTS * labelled * (kp[:, 2] > 0)
                inside = (kp[:, :2] >= 0).all(1) & (kp[:, :2] < self.size).all(1)
                w = w * inside
            else:
                img, kp, w = np.zeros((self.size, self.size, 3), np.uint8), np.zeros((NUM_JOINTS, 3)), 0 * JOINT_WEIGHTS
            images.append(img)
            heatmaps.append(gaussian_heatmaps(kp[:, :2] / 4, self.out, self.sigma) * (w > 0)[:, None, None])
            weights.append(np.asarray(w, np.float32))
        return {"images": torch.from_numpy(np.stack(images)), "heatmaps": torch.from_numpy(np.stack(heatmaps)),
                "joint_weights": torch.from_numpy(np.stack(weights))}

    def _crop(self, image: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
        """One person's augmented crop (S, S, 3) and keypoints (17, 3) in crop pixels (visibility kept)."""
        found = keypoints[:, 2] > 0
        chosen, grow = found, 1.0
        if self.augment and found.sum() > 8 and rng.random() < self.half_body:
            upper, lower = found & UPPER, found & ~UPPER
            part = upper if (rng.random() < 0.5 and upper.sum() > 2) or lower.sum() <= 2 else lower
            if part.sum() > 2:
                chosen, grow = part, 1.5  # mmpose's half-body box grows 1.5 times
        masked = keypoints.copy()
        masked[~chosen, 2] = 0
        box = keypoint_boxes(masked[None], self.box_margin * grow, min_size=8.0)[0]
        center, size = box_to_center_scale(box, (self.size, self.size))
        rotation = 0.0
        if self.augment:
            size = size * np.clip(rng.normal() * self.scale + 1, 1 - self.scale, 1 + self.scale)
            if rng.random() < self.rotation_prob:
                rotation = float(np.clip(rng.normal() * self.rotation, -2 * self.rotation, 2 * self.rotation))
        m = crop_matrix(center, size, self.size, rotation)
        crop = cv2.warpAffine(image, m, (self.size, self.size), flags=cv2.INTER_LINEAR)
        kp = keypoints.astype(np.float32).copy()
        kp[:, :2] = keypoints[:, :2] @ m[:, :2].T + m[:, 2]
        if self.augment and rng.random() < self.flip:
            # as the image is mirrored: pixel centres x -> S - 1 - x (the flip test mirrors its crops alike)
            crop = np.ascontiguousarray(crop[:, ::-1])
            kp[:, 0] = self.size - 1 - kp[:, 0]
            kp = kp[FLIP]
        return crop, kp
