"""Merged maps -> people in original image pixels: grouping (ours or mmpose's), mapping back, optional OKS-NMS."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from aetrack.config import InferenceConfig
from aetrack.inference.geometry import Placement
from aetrack.inference.maps import FrameMaps
from aetrack.poses import Poses
from aetrack.skeleton import OKS_SIGMAS


def decode_maps(frame_maps: FrameMaps, inference: InferenceConfig) -> list[Poses]:
    """People of each image of the batch, keypoints in original image pixels."""
    from aetrack.decode import decode_batch

    m = frame_maps.maps
    temporal = m.temporal if m.temporal.shape[-1] else None
    tags = m.tags
    if temporal is not None and inference.group_with_temporal:
        tags = torch.cat([tags, temporal], -1)
    if inference.grouping == "mmpose":
        people = [group_mmpose(m.heatmaps[i], tags[i], None if temporal is None else temporal[i], inference)
                  for i in range(len(m.heatmaps))]
    else:
        people = decode_batch(m.heatmaps, tags, inference, temporal=temporal)
    # mmpose maps every joint back, found or not (refinement gives all of them a place)
    out = [to_image_pixels(p, frame_maps.box, frame_maps.stride, all_joints=inference.grouping == "mmpose")
           for p in people]
    if inference.oks_nms > 0:
        out = [p[oks_nms(p, inference.oks_nms)] for p in out]
    return out


def group_mmpose(heatmaps: torch.Tensor, tags: torch.Tensor, temporal: torch.Tensor | None,
                 inference: InferenceConfig) -> Poses:
    """People of one image with mmpose 0.29's HeatmapParser, from heatmaps (J, H, W), tags (J, H, W, D) and
    temporal tags (J, H, W, E) or None; keypoints in map pixels, people in the order mmpose finds them."""
    from aetrack.decode import MMPOSE, parse_mmpose, temporal_tags

    det, tag = _numpy(heatmaps), _numpy(tags)
    params = replace(MMPOSE, detection_threshold=inference.detection_threshold,
                     tag_threshold=inference.tag_threshold, max_people=inference.max_people,
                     nms_kernel=inference.nms_kernel)
    people, scores = parse_mmpose(det, tag, adjust=inference.adjust, refine=inference.refine, params=params)
    people = people.reshape(-1, det.shape[0], 3 + tag.shape[-1])
    keypoints = np.ascontiguousarray(people[:, :, :3], np.float32)
    joint_tags = np.ascontiguousarray(people[:, :, 3:], np.float32)
    found = keypoints[:, :, 2:3] > 0
    mean_tags = (joint_tags * found).sum(1) / np.maximum(found.sum(1), 1)
    temporal_means = temporal_tags(_numpy(temporal), keypoints) if temporal is not None else None
    return Poses(keypoints, np.asarray(scores, np.float32).reshape(-1), mean_tags.astype(np.float32), joint_tags,
                 temporal_means if temporal_means is not None else np.zeros((len(keypoints), 0), np.float32))


def _numpy(t: torch.Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy(), np.float32)


def to_image_pixels(poses: Poses, box: Placement, stride: int, all_joints: bool = False) -> Poses:
    """Poses with keypoints in map pixels (grid of `stride` at placement `box`) -> the same people in original
    image pixels; joints not found (score 0) are left at 0 unless `all_joints`."""
    if len(poses) == 0:
        return poses
    kp = poses.keypoints.copy()
    xy = box.heatmap_to_image(kp[..., :2], stride).astype(np.float32)
    if all_joints:
        kp[..., :2] = xy
    else:
        kp[..., :2] = np.where((kp[..., 2] > 0)[..., None], xy, 0.0)
    return replace(poses, keypoints=kp)


def oks_nms(poses: Poses, threshold: float) -> np.ndarray:
    """Indices of the people kept by greedy OKS non-maximum suppression (mmpose's `oks_nms`): in decreasing
    score, a person is dropped when its OKS with a kept one is above `threshold`. OKS uses the mean of both
    people's keypoint-box areas, over the joints found in both; keypoints in image pixels."""
    kp = poses.keypoints.astype(np.float64)
    found = kp[:, :, 2] > 0
    areas = np.array([_box_area(p[f]) for p, f in zip(kp, found)])
    variances = (2 * OKS_SIGMAS) ** 2
    order = list(np.argsort(-poses.scores, kind="stable"))
    keep: list[int] = []
    while order:
        i, rest = order[0], np.array(order[1:], np.int64)
        keep.append(int(i))
        if not len(rest):
            break
        d2 = ((kp[rest, :, :2] - kp[i, None, :, :2]) ** 2).sum(-1)  # (R, 17)
        scale = (areas[rest] + areas[i])[:, None] / 2 + np.spacing(1)
        similarity = np.exp(-d2 / variances / scale / 2)
        both = found[rest] & found[i]
        oks = np.where(both.any(1), (similarity * both).sum(1) / np.maximum(both.sum(1), 1), 0.0)
        order = list(rest[oks <= threshold])
    return np.array(keep, np.int64)


def _box_area(xy: np.ndarray) -> float:
    """Area (pixels²) of the box around keypoints (K, 2+), mmpose's stand-in for the person's area."""
    if len(xy) == 0:
        return 0.0
    return float((xy[:, 0].max() - xy[:, 0].min()) * (xy[:, 1].max() - xy[:, 1].min()))
