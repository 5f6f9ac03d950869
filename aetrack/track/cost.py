"""Association costs between tracks and people, as pure functions: OKS, embedding distance, the gated cost."""
from __future__ import annotations

import numpy as np

from aetrack.skeleton import oks

__all__ = ["association_cost", "embedding_distance", "oks"]


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
