"""Faithful modes: the people the authors' reference decoder (pose-ae-train) and mmpose 0.29 find, quirks included.

Both return (people (P, J, 3 + D) float32: x, y, score, tags in heatmap pixels; scores (P,) float32 mean
joint score before refinement), with people in the order they were created.

Reference quirks reproduced here: people live in a dict keyed by the first tag value of the joint that
started them (an equal value overwrites that person's joint and restarts its tag list); only the first 30
people are matched, and once there are 30 the remaining joints are skipped; equal-cost matchings are broken
as its `munkres` does and equal heatmap maxima are ordered as torch.topk orders them; refined joints get
score 1, tag 0, +0.5 and the quarter step with the reference's neighbour clamps.
"""
from __future__ import annotations

import numpy as np

from aetrack.decode.candidates import find_candidates
from aetrack.decode.grouping import MMPOSE, REFERENCE, GroupingParams, group
from aetrack.decode.refine import adjust_candidates, fill_missing


def _check_maps(det: np.ndarray, tag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    det = np.asarray(det, np.float32)
    tag = np.asarray(tag, np.float32)
    if tag.ndim == 3:
        tag = tag[..., None]
    if det.ndim != 3 or tag.shape[:3] != det.shape:
        raise ValueError(f"expected det (J, H, W) and tag (J, H, W, D), got {det.shape} and {tag.shape}")
    return det, tag


def _parse(det: np.ndarray, tag: np.ndarray, params: GroupingParams, adjust: bool) -> np.ndarray:
    det, tag = _check_maps(det, tag)
    cand = find_candidates(det, tag, params.max_people, params.detection_threshold, params.nms_kernel,
                           torch_ties=True)
    if adjust:  # +0.5 and the quarter step toward the higher neighbour, on the candidates before grouping
        cand = adjust_candidates(cand, det)
    return group(cand, params, det.shape[0])


def _scores(people: np.ndarray) -> np.ndarray:
    return people[:, :, 2].mean(axis=1) if len(people) else np.zeros(0, np.float32)


def parse_reference(det: np.ndarray, tag: np.ndarray, refine: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The reference's HeatmapParser.parse (+ test.py's refine when `refine`) on det (J, H, W), tag (J, H, W, D)."""
    det, tag = _check_maps(det, tag)
    people = _parse(det, tag, REFERENCE, adjust=True)
    scores = _scores(people)
    if refine:
        fill_missing(people, det, tag, score_one=True, reference_clamps=True)
    return people, scores


def parse_mmpose(det: np.ndarray, tag: np.ndarray, adjust: bool = True, refine: bool = True,
                 params: GroupingParams = MMPOSE) -> tuple[np.ndarray, np.ndarray]:
    """mmpose 0.29's HeatmapParser.parse with its bottom-up test settings (NMS 5x5, no ignore_too_much);
    `params` may change its thresholds, candidates per joint and NMS kernel as mmpose's test_cfg would."""
    det, tag = _check_maps(det, tag)
    people = _parse(det, tag, params, adjust)
    scores = _scores(people)
    if refine:
        fill_missing(people, det, tag, score_one=False, reference_clamps=False)
    return people, scores
