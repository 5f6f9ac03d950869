"""Association costs between tracks and people, as pure functions: OKS, embedding distance, the gated cost."""
from __future__ import annotations

import numpy as np

from aetrack.skeleton import OKS_SIGMAS


def oks(reference: np.ndarray, keypoints: np.ndarray, areas: np.ndarray,
        variances: np.ndarray | None = None) -> np.ndarray:
    """Object keypoint similarity (M, N) in [0, 1] of every reference pose against every pose.

    reference: (M, 17, 3) and keypoints: (N, 17, 3) x, y, score in pixels of one image; a joint counts where its
        score is > 0 in both, and a pair with no such joint scores 0.
    areas: (M,) pixels², the scale of each reference pose (COCO uses the person's area).
    variances: (M, 17) pixels², uncertainty of the reference joints added to COCO's falloff; the tracker passes
        the Kalman prediction's, so a coasting track's gate widens as its prediction drifts.
    """
    falloff = np.asarray(areas, np.float64)[:, None] * (2 * OKS_SIGMAS) ** 2  # (M, 17)
    if variances is not None:
        falloff = falloff + variances
    d2 = ((reference[:, None, :, :2] - keypoints[None, :, :, :2]) ** 2).sum(-1)  # (M, N, 17)
    both = (reference[:, None, :, 2] > 0) & (keypoints[None, :, :, 2] > 0)
    similarity = np.exp(-d2 / (2 * np.maximum(falloff[:, None], 1e-12)))
    count = both.sum(-1)
    return np.where(count > 0, (similarity * both).sum(-1) / np.maximum(count, 1), 0.0)


def embedding_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance (M, N) between embeddings a (M, E) and b (N, E); raw tags, as the pull/push loss sees them."""
    return np.sqrt(((a[:, None, :].astype(np.float64) - b[None, :, :]) ** 2).sum(-1))


def association_cost(similarity: np.ndarray, distance: np.ndarray | None, *, pose_weight: float,
                     embedding_weight: float, min_oks: float, max_distance: float,
                     gate_distance: bool = True) -> np.ndarray:
    """Gated cost (M, N): pose_weight * (1 - OKS) + embedding_weight * distance / max_distance; inf where gated.

    similarity: (M, N) OKS; distance: (M, N) embedding distance, or None for models without temporal tags.
    A pair is gated out when OKS < min_oks, or when distance > max_distance if gate_distance; without the
    embedding gate the distance term is capped at embedding_weight, so tags weigh in but never forbid a pair.
    """
    cost = pose_weight * (1.0 - similarity)
    allowed = similarity >= min_oks
    if distance is not None:
        cost = cost + embedding_weight * np.minimum(distance / max_distance, 1.0)
        if gate_distance:
            allowed &= distance <= max_distance
    return np.where(allowed, cost, np.inf)
