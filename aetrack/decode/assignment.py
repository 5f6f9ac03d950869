"""Minimum-cost assignment of rows (joint candidates) to columns (people).

`munkres_assignment` reproduces which optimum the reference's solver (the `munkres` package, 3.x) returns
when several assignments cost the same, which is common here: costs are whole hundreds minus a heatmap value.
That package reduces every row by its minimum and greedily pairs rows with free zero-cost columns, then adds
the remaining rows one by one with shortest augmenting paths: in Python below 16 cells (textbook
Jonker-Volgenant/"e-maxx" steps), in C from 16 cells on (Crouse's variant, as in scipy, where an equal-cost
free column wins). scipy's `linear_sum_assignment` alone returns other optima, so it serves the production
decoder, where any optimum is fine.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

_INF = float("inf")
_NATIVE_MIN_CELLS = 16  # the reference solver's switch from its Python to its C path


def scipy_assignment(cost: np.ndarray) -> np.ndarray:
    """(n,) column of each row of cost (n, m), -1 for rows left over when n > m."""
    rows, cols = linear_sum_assignment(cost)
    if len(rows) == len(cost):  # every row assigned: rows are 0 .. n - 1
        return cols.astype(np.int64, copy=False)
    col = np.full(cost.shape[0], -1, np.int64)
    col[rows] = cols
    return col


def munkres_assignment(cost: np.ndarray) -> np.ndarray:
    """(n,) column of each row of cost (n, m), n <= m, the optimum the reference's munkres returns."""
    n, m = cost.shape
    if n > m:
        raise ValueError("munkres_assignment needs at least as many columns as rows; pad the columns")
    if n == 0:
        return np.zeros(0, np.int64)
    first = cost.argmin(axis=1)
    if n == 1 or len(set(first.tolist())) == n:  # every row's first cheapest column differs: greedy is done
        return first
    row_min = cost[np.arange(n), first]
    col4row, row4col = _greedy_zeros(cost, row_min)
    if min(col4row) >= 0:
        return np.asarray(col4row, np.int64)
    c = cost.tolist()
    u = row_min.tolist()
    if n * m < _NATIVE_MIN_CELLS:
        _augment_emaxx(c, u, col4row, row4col, m)
    else:
        _augment_crouse(c, u, col4row, row4col, m)
    return np.asarray(col4row, np.int64)


def munkres_lists(cost: list[list[float]]) -> list[int]:
    """munkres_assignment for a small cost matrix given as lists (no numpy overhead); n <= m."""
    n, m = len(cost), len(cost[0])
    col4row, row4col = [-1] * n, [-1] * m
    u = [min(row) for row in cost]
    for i, row in enumerate(cost):  # warm start: each row takes its first free cheapest column
        low = u[i]
        for j, c in enumerate(row):
            if c == low and row4col[j] < 0:
                col4row[i] = j
                row4col[j] = i
                break
    if min(col4row) < 0:
        augment = _augment_emaxx if n * m < _NATIVE_MIN_CELLS else _augment_crouse
        augment(cost, u, col4row, row4col, m)
    return col4row


def _greedy_zeros(cost: np.ndarray, row_min: np.ndarray) -> tuple[list[int], list[int]]:
    """Warm start: each row in turn takes its first still-free column of minimum cost."""
    n, m = cost.shape
    col4row, row4col = [-1] * n, [-1] * m
    rows, cols = np.nonzero(cost == row_min[:, None])  # row-major, so each row's columns come in order
    for i, j in zip(rows.tolist(), cols.tolist()):
        if col4row[i] < 0 and row4col[j] < 0:
            col4row[i] = j
            row4col[j] = i
    return col4row, row4col


def _augment_crouse(c: list[list[float]], u: list[float], col4row: list[int], row4col: list[int],
                    m: int) -> None:
    """Add unmatched rows by shortest augmenting paths (Crouse 2016), in place; v starts at 0."""
    n = len(c)
    v = [0.0] * m
    for cur in range(n):
        if col4row[cur] >= 0:
            continue
        path = [-1] * m
        spc = [_INF] * m          # shortest path cost to each column so far
        visited_rows = [cur]
        visited_cols = []
        remaining = list(range(m - 1, -1, -1))  # reverse order, as the C solver keeps it
        min_val = 0.0
        i = cur
        sink = -1
        while sink < 0:
            best = -1
            lowest = _INF
            ci, ui = c[i], u[i]
            for it, j in enumerate(remaining):
                r = min_val + ci[j] - ui - v[j]  # this order of operations, as the C solver rounds
                s = spc[j]
                if r < s:
                    path[j] = i
                    spc[j] = s = r
                # on equal cost a free column wins: it ends the path
                if s < lowest or (s == lowest and row4col[j] < 0):
                    lowest = s
                    best = it
            min_val = lowest
            j = remaining[best]
            if row4col[j] < 0:
                sink = j
            else:
                i = row4col[j]
                visited_rows.append(i)
            visited_cols.append(j)
            remaining[best] = remaining[-1]
            remaining.pop()
        u[cur] += min_val
        for i in visited_rows[1:]:
            u[i] += min_val - spc[col4row[i]]
        for j in visited_cols:
            v[j] -= min_val - spc[j]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == cur:
                break


def _augment_emaxx(c: list[list[float]], u: list[float], col4row: list[int], row4col: list[int],
                   m: int) -> None:
    """Add unmatched rows with the textbook potentials method (column m is a virtual start), in place."""
    n = len(c)
    v = [0.0] * (m + 1)
    p = row4col + [-1]      # p[j]: row on column j
    way = [0] * (m + 1)
    for i in range(n):
        if col4row[i] >= 0:
            continue
        p[m] = i
        j0 = m
        minv = [_INF] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = p[j0]
            ui = u[i0]
            for j, cost in enumerate(c[i0]):
                if not used[j]:
                    cur = cost - ui - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
            delta, j1 = _INF, -1
            for j in range(m):
                if not used[j] and minv[j] < delta:
                    delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                elif minv[j] != _INF:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == -1:
                break
        while j0 != m:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    for j in range(m):
        row4col[j] = p[j]
        if p[j] >= 0:
            col4row[p[j]] = j
