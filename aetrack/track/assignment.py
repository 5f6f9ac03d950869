"""Solving a gated cost matrix: the cheapest one-to-one matching that uses no gated pair."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match rows to columns of cost (M, N), inf marking forbidden pairs.

    Returns matches (K, 2) of (row, column), then the unmatched rows and columns, all ascending by row/column.
    """
    rows, cols = cost.shape
    finite = np.isfinite(cost)
    if not finite.any():
        return np.zeros((0, 2), np.int64), np.arange(rows), np.arange(cols)
    # scipy refuses matrices with no complete finite matching, so forbidden pairs get a cost above any
    # allowed total; the solver then still takes as many allowed pairs as it can, and forbidden ones are dropped.
    big = 1.0 + 2.0 * np.abs(cost[finite]).sum()
    r, c = linear_sum_assignment(np.where(finite, cost, big))
    keep = finite[r, c]
    matches = np.stack([r[keep], c[keep]], axis=1).astype(np.int64)
    return (matches, np.setdiff1d(np.arange(rows), matches[:, 0]),
            np.setdiff1d(np.arange(cols), matches[:, 1]))
