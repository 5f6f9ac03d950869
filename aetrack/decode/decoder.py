"""The production decoder: heatmaps and tags of one image or a batch -> `Poses`, in heatmap pixels.

Same grouping core as the faithful modes, without the reference's limits: every person can take a joint (no
cap at 30 people, no skipped joints), people are never merged through equal tag values, refined joints keep
their heatmap value as score and their tag, and people come sorted by score (at most max_people). Coordinates are pixel edges (pixel i spans [i, i + 1)),
so a joint at pixel i is at i + 0.5, plus the quarter step toward the higher neighbour when `adjust`.
`decode_batch` runs NMS and top-k for the whole batch in torch, on the maps' device; only candidates (and, with
refinement on a GPU, the filled joints) come back to the CPU.
"""
from __future__ import annotations

import numpy as np
import torch

from aetrack.config import InferenceConfig
from aetrack.decode.candidates import Candidates, find_candidates, topk_torch
from aetrack.decode.grouping import GroupingParams, group
from aetrack.decode.subpixel import refine_people
from aetrack.decode.refine import fill_missing, mean_of_found, quarter_offsets
from aetrack.errors import AetrackError
from aetrack.poses import Poses


def grouping_params(config: InferenceConfig) -> GroupingParams:
    """Our grouping settings for an InferenceConfig."""
    return GroupingParams(detection_threshold=config.detection_threshold, tag_threshold=config.tag_threshold,
                          max_people=config.max_people, ignore_too_much=False, use_detection_value=True,
                          distance="rms", keys="index", solver="scipy", match_first_only=False,
                          nms_kernel=config.nms_kernel)


def decode(heatmaps: np.ndarray | torch.Tensor, tags: np.ndarray | torch.Tensor, config: InferenceConfig,
           temporal: np.ndarray | torch.Tensor | None = None) -> Poses:
    """People of one image from heatmaps (J, H, W), tags (J, H, W, D), temporal tags (J, H, W, E).

    numpy arrays (tensors are copied to the CPU); the work is numpy throughout, cheapest for a single image.
    """
    det, tag, tmp = _single_maps(heatmaps, tags, temporal)
    cand = find_candidates(det, tag, config.max_people, config.detection_threshold, config.nms_kernel)
    cand = _place(cand, det, config.adjust)
    return _finish(group(cand, grouping_params(config), det.shape[0]), det, tag, tmp, config)


def decode_batch(heatmaps: np.ndarray | torch.Tensor, tags: np.ndarray | torch.Tensor, config: InferenceConfig,
                 temporal: np.ndarray | torch.Tensor | None = None) -> list[Poses]:
    """People of each image of heatmaps (N, J, H, W), tags (N, J, H, W, D), temporal (N, J, H, W, E).

    Tensors stay on their device for NMS and top-k; numpy arrays are treated as CPU tensors.
    """
    det = torch.as_tensor(heatmaps)
    tag = torch.as_tensor(tags)
    tmp = None if temporal is None else torch.as_tensor(temporal)
    _check_batch(det, tag, tmp)
    det = det.float()
    tag = tag.float()
    n, j_count, h, w = det.shape
    with torch.no_grad():
        val, ind = topk_torch(det, config.max_people, config.nms_kernel)
        cand_tags = tag.reshape(n, j_count, h * w, -1).gather(2, ind[..., None].expand(-1, -1, -1, tag.shape[-1]))
        dx, dy = _quarter_torch(det, ind) if config.adjust else (torch.zeros_like(val), torch.zeros_like(val))
        val, ind, cand_tags, dx, dy = (a.cpu().numpy() for a in (val, ind, cand_tags, dx, dy))
    params = grouping_params(config)
    on_cpu = det.device.type == "cpu"
    people, scores, mean_tags = [], [], []
    for i in range(n):
        cand = _candidates(val[i], ind[i], cand_tags[i], dx[i], dy[i], w, config.detection_threshold)
        found = group(cand, params, j_count)
        people.append(found)
        scores.append(_scores(found))
        mean_tags.append(_grouped_tags(found))
    if config.refine:
        if on_cpu:  # the exact, pruned search on the maps as they are (numpy views, no copy)
            det_np, tag_np = det.numpy(), tag.numpy()
            for i in range(n):
                fill_missing(people[i], det_np[i], tag_np[i], score_one=False, quarter=config.adjust,
                             fill_tags=True)
        else:
            _fill_missing_torch(people, det, tag, config.adjust)
    if config.subpixel == "quadratic":
        for i in range(n):
            refine_people(people[i], det[i])
    temporal_means = _temporal_batch(people, tmp)
    return [_poses(p, s, t, e, config.max_people) for p, s, t, e in zip(people, scores, mean_tags, temporal_means)]


def tags_at(maps: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(P, J, E) values of per-joint maps (J, H, W, E) at keypoints (P, J, 3) in heatmap pixels; 0 where score 0."""
    j_count, h, w, e = maps.shape
    p_count = len(keypoints)
    out = np.zeros((p_count, j_count, e), np.float32)
    p_idx, j_idx = np.nonzero(keypoints[:, :, 2] > 0)
    # np.minimum / np.maximum: np.clip costs several times more per call
    x = np.minimum(np.maximum(np.floor(keypoints[p_idx, j_idx, 0]).astype(np.int64), 0), w - 1)
    y = np.minimum(np.maximum(np.floor(keypoints[p_idx, j_idx, 1]).astype(np.int64), 0), h - 1)
    out[p_idx, j_idx] = maps[j_idx, y, x]
    return out


def temporal_tags(temporal: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """(P, E) mean temporal tag of each person over its found joints, read from temporal (J, H, W, E)."""
    return _masked_mean(tags_at(temporal, keypoints), keypoints[:, :, 2] > 0)


def _single_maps(heatmaps, tags, temporal) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    det = np.asarray(heatmaps.detach().cpu() if torch.is_tensor(heatmaps) else heatmaps, np.float32)
    tag = np.asarray(tags.detach().cpu() if torch.is_tensor(tags) else tags, np.float32)
    tmp = None
    if temporal is not None:
        tmp = np.asarray(temporal.detach().cpu() if torch.is_tensor(temporal) else temporal, np.float32)
    if det.ndim != 3 or tag.ndim != 4 or tag.shape[:3] != det.shape:
        raise AetrackError(f"decode: expected heatmaps (J, H, W) and tags (J, H, W, D), got {det.shape} and "
                           f"{tag.shape}")
    if tmp is not None and (tmp.ndim != 4 or tmp.shape[:3] != det.shape):
        raise AetrackError(f"decode: expected temporal tags (J, H, W, E) for heatmaps {det.shape}, got {tmp.shape}")
    return det, tag, tmp


def _check_batch(det: torch.Tensor, tag: torch.Tensor, tmp: torch.Tensor | None) -> None:
    if det.dim() != 4 or tag.dim() != 5 or tuple(tag.shape[:4]) != tuple(det.shape):
        raise AetrackError(f"decode_batch: expected heatmaps (N, J, H, W) and tags (N, J, H, W, D), got "
                           f"{tuple(det.shape)} and {tuple(tag.shape)}")
    if tmp is not None and (tmp.dim() != 5 or tuple(tmp.shape[:4]) != tuple(det.shape)):
        raise AetrackError(f"decode_batch: expected temporal tags (N, J, H, W, E), got {tuple(tmp.shape)}")


def _place(cand: Candidates, det: np.ndarray, adjust: bool) -> Candidates:
    """Candidates at pixel centres (+ the quarter step): grouping does not look at positions, so do it first."""
    xy = cand.xy + np.float32(0.5)
    if adjust and len(xy):
        j = np.repeat(np.arange(len(cand.starts) - 1), np.diff(cand.starts))
        dx, dy = quarter_offsets(det, j, cand.xy[:, 0].astype(np.int64), cand.xy[:, 1].astype(np.int64))
        xy = xy + np.stack([dx, dy], axis=1).astype(np.float32)
    return Candidates(xy, cand.val, cand.tags, cand.flat, cand.starts)


def _quarter_torch(det: torch.Tensor, ind: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Quarter steps (N, J, k) toward the higher neighbour at flat pixels ind (N, J, k), on det's device."""
    n, j, h, w = det.shape
    flat = det.reshape(n, j, h * w)
    x, y = ind % w, ind // w

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat.gather(2, yy * w + xx)

    step = torch.tensor(0.25, device=det.device)
    dx = torch.where(at(y, (x + 1).clamp(max=w - 1)) > at(y, (x - 1).clamp(min=0)), step, -step)
    dy = torch.where(at((y + 1).clamp(max=h - 1), x) > at((y - 1).clamp(min=0), x), step, -step)
    return dx, dy


def _candidates(val: np.ndarray, ind: np.ndarray, tags: np.ndarray, dx: np.ndarray, dy: np.ndarray, w: int,
                threshold: float) -> Candidates:
    """Candidates of one image from top-k arrays (J, k) sorted by decreasing value, placed at pixel centres."""
    keep = val > threshold
    starts = np.concatenate(([0], np.cumsum(keep.sum(axis=1)))).astype(np.int64)
    flat = ind[keep].astype(np.int64)
    xy = np.stack([flat % w + 0.5 + dx[keep], flat // w + 0.5 + dy[keep]], axis=1).astype(np.float32)
    return Candidates(xy, val[keep].astype(np.float32), tags[keep].astype(np.float32), flat, starts)


def _scores(people: np.ndarray) -> np.ndarray:
    """(P,) mean joint score over all joints (0 for missing), before refinement, as the reference scores."""
    return people[:, :, 2].mean(axis=1).astype(np.float32) if len(people) else np.zeros(0, np.float32)


def _grouped_tags(people: np.ndarray) -> np.ndarray:
    """(P, D) mean tag of the joints grouping gave each person."""
    found = (people[:, :, 2] > 0)[:, :, None]
    return (people[:, :, 3:] * found).sum(axis=1) / np.maximum(found.sum(axis=1), 1)


def _finish(people: np.ndarray, det: np.ndarray, tag: np.ndarray, tmp: np.ndarray | None,
            config: InferenceConfig) -> Poses:
    scores, mean_tags = _scores(people), _grouped_tags(people)
    if config.refine:
        fill_missing(people, det, tag, score_one=False, quarter=config.adjust, fill_tags=True)
    if config.subpixel == "quadratic":
        refine_people(people, torch.from_numpy(det))
    temporal = temporal_tags(tmp, people[:, :, :3]) if tmp is not None else None
    return _poses(people, scores, mean_tags, temporal, config.max_people)


def _poses(people: np.ndarray, scores: np.ndarray, mean_tags: np.ndarray, temporal: np.ndarray | None,
           max_people: int) -> Poses:
    """Poses sorted by decreasing score, at most max_people."""
    order = np.argsort(-scores, kind="stable")[:max_people]
    d = people.shape[2] - 3
    temporal = np.zeros((len(people), 0), np.float32) if temporal is None else temporal
    return Poses(people[order, :, :3].astype(np.float32), scores[order].astype(np.float32),
                 mean_tags[order].astype(np.float32).reshape(len(order), d),
                 people[order, :, 3:].astype(np.float32), temporal[order].astype(np.float32))


def _fill_missing_torch(people: list[np.ndarray], det: torch.Tensor, tag: torch.Tensor, quarter: bool) -> None:
    """fill_missing for a batch on det's device: whole-map argmax per missing joint, results back to numpy."""
    n, j_count, h, w = det.shape
    d = tag.shape[-1]
    image, person, joint, prev = [], [], [], []
    for i, p in enumerate(people):
        if len(p) == 0:
            continue
        p_idx, j_idx = np.nonzero(p[:, :, 2] == 0)
        if len(p_idx) == 0:
            continue
        mean = person_tags_torch(p, tag[i])
        image.append(np.full(len(p_idx), i))
        person.append(p_idx)
        joint.append(j_idx)
        prev.append(mean[p_idx])
    if not image:
        return
    image_t = torch.as_tensor(np.concatenate(image), device=det.device)
    joint_t = torch.as_tensor(np.concatenate(joint), device=det.device)
    prev_t = torch.as_tensor(np.concatenate(prev), device=det.device)
    flat_det = det.reshape(n, j_count, h * w)
    flat_tag = tag.reshape(n, j_count, h * w, d)
    pix = []
    for chunk in torch.split(torch.arange(len(image_t), device=det.device), 256):  # bounded memory
        maps = flat_det[image_t[chunk], joint_t[chunk]]
        diff = flat_tag[image_t[chunk], joint_t[chunk]] - prev_t[chunk, None, :]
        dist = torch.sqrt((diff * diff).sum(-1))
        pix.append(torch.argmax(maps - torch.round(dist), dim=1))
    pix_t = torch.cat(pix)
    x, y = pix_t % w, pix_t // w
    val = flat_det[image_t, joint_t, pix_t]
    tags_at_pix = flat_tag[image_t, joint_t, pix_t]
    if quarter:
        dx, dy = _quarter_torch(det[image_t, joint_t][:, None], pix_t[:, None, None])
        dx, dy = dx[:, 0, 0], dy[:, 0, 0]
    else:
        dx = dy = torch.zeros_like(val)
    x, y, val, tags_at_pix, dx, dy = (a.cpu().numpy() for a in (x, y, val, tags_at_pix, dx, dy))
    image_np, person_np, joint_np = np.concatenate(image), np.concatenate(person), np.concatenate(joint)
    ok = val > 0
    for i in np.unique(image_np[ok]):
        sel = ok & (image_np == i)
        p = people[i]
        p[person_np[sel], joint_np[sel], 0] = x[sel] + 0.5 + dx[sel]
        p[person_np[sel], joint_np[sel], 1] = y[sel] + 0.5 + dy[sel]
        p[person_np[sel], joint_np[sel], 2] = val[sel]
        p[person_np[sel], joint_np[sel], 3:] = tags_at_pix[sel]


def person_tags_torch(people: np.ndarray, tag: torch.Tensor) -> np.ndarray:
    """person_tags with the tags read on the device: only the people's own pixels come back."""
    found = people[:, :, 2] > 0
    values = _gather_at(tag, people)
    return mean_of_found(values, found)


def _gather_at(maps: torch.Tensor, people: np.ndarray) -> np.ndarray:
    """(P, J, E) values of maps (J, H, W, E) on their device at the found joints of people, 0 elsewhere."""
    _, h, w, e = maps.shape
    p_idx, j_idx = np.nonzero(people[:, :, 2] > 0)
    x = np.clip(np.floor(people[p_idx, j_idx, 0]).astype(np.int64), 0, w - 1)
    y = np.clip(np.floor(people[p_idx, j_idx, 1]).astype(np.int64), 0, h - 1)
    dev = maps.device
    out = np.zeros((len(people), people.shape[1], e), np.float32)
    out[p_idx, j_idx] = maps[torch.as_tensor(j_idx, device=dev), torch.as_tensor(y, device=dev),
                             torch.as_tensor(x, device=dev)].float().cpu().numpy()
    return out


def _masked_mean(per_joint: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(P, E) mean of per_joint (P, J, E) over found joints (P, J), float32."""
    total = (per_joint * found[:, :, None]).sum(axis=1)
    return (total / np.maximum(found.sum(axis=1), 1)[:, None]).astype(np.float32)


def _temporal_batch(people: list[np.ndarray], tmp: torch.Tensor | None) -> list[np.ndarray | None]:
    """Mean temporal tag per person (read on the device at the final joints), per image."""
    if tmp is None:
        return [None] * len(people)
    return [_masked_mean(_gather_at(tmp[i], p), p[:, :, 2] > 0) for i, p in enumerate(people)]
