"""Grouping joint candidates into people by their tags (the paper's section 3.2), joint by joint.

One implementation serves the reference's faithful mode, mmpose's and ours; `GroupingParams` says which.
Joints are taken in `order`; each joint's candidates are matched to the people found so far with a
minimum-cost assignment on cost = round(tag distance) * 100 - heatmap value (or the distance alone), a match
further than `tag_threshold` starts a new person, and so does every candidate left without a person.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aetrack.decode.assignment import munkres_assignment, munkres_lists, scipy_assignment
from aetrack.decode.candidates import Candidates
from aetrack.skeleton import DECODE_ORDER

_PAD_COST = 1e10  # cost of the dummy columns that let every candidate start a new person
_SMALL = 16       # candidates x people up to which matching runs in plain Python


@dataclass(frozen=True)
class GroupingParams:
    """How candidates become people.

    max_people: candidates per joint, and (when `match_first_only`) how many of the earliest people a joint is
        matched against. ignore_too_much: once that many people exist, later joints are skipped (reference).
    distance: "rms" (root mean square over tag dims, the reference) or "l2" (Euclidean norm, mmpose).
    keys: "first_tag" (people live in a dict keyed by the first tag value of the joint that started them, so a
        new candidate with an equal value overwrites that person: the reference and mmpose) or "index".
    solver: "munkres" (the reference's choice among equal-cost optima) or "scipy".
    """

    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    max_people: int = 30
    ignore_too_much: bool = False
    use_detection_value: bool = True
    distance: str = "rms"
    keys: str = "first_tag"
    solver: str = "munkres"
    match_first_only: bool = True
    nms_kernel: int = 3
    order: tuple[int, ...] = tuple(int(j) for j in DECODE_ORDER)


REFERENCE = GroupingParams(ignore_too_much=True)
MMPOSE = GroupingParams(distance="l2", nms_kernel=5, match_first_only=False)


class _People:
    """People under construction: joints (P, J, 3 + D) float32 (x, y, value, tags) and each one's tag list.

    Tag means follow np.mean over the list in float32, bit for bit: sequential sums for D > 1, numpy's pairwise
    sum (blocks of 8) for D == 1, then a float64 division; the reference's decisions hinge on these values.
    `mean` holds them (float32); the list itself is only kept where the pairwise sum needs it.
    """

    def __init__(self, capacity: int, joints: int, dim: int) -> None:
        self.count = 0
        self.joints = np.zeros((capacity, joints, 3 + dim), np.float32)
        self.pairwise = dim == 1
        self.tag_list = np.zeros((capacity, joints + 1, dim) if self.pairwise else (0, 0, dim), np.float32)
        self.tag_count = np.zeros(capacity, np.int64)
        self.tag_sum = np.zeros((capacity, dim), np.float32)
        self.mean = np.zeros((capacity, dim), np.float32)

    def start(self, j: int, rows: np.ndarray, tags: np.ndarray) -> np.ndarray:
        """New people, one per row of rows (R, 3 + D), in order; returns their indices."""
        idx = np.arange(self.count, self.count + len(rows))
        self.count += len(rows)
        self.reset(idx, j, rows, tags)
        return idx

    def reset(self, idx: np.ndarray, j: int, rows: np.ndarray, tags: np.ndarray) -> None:
        """Set joint j of people idx and restart their tag lists with this joint's tag."""
        self.joints[idx, j] = rows
        if self.pairwise:
            self.tag_list[idx, 0] = tags
        self.tag_count[idx] = 1
        self.tag_sum[idx] = tags
        self.mean[idx] = tags

    def add(self, idx: np.ndarray, j: int, rows: np.ndarray, tags: np.ndarray) -> None:
        """Set joint j of distinct people idx and append the tags to their lists."""
        self.joints[idx, j] = rows
        n = self.tag_count[idx] + 1
        self.tag_count[idx] = n
        total = self.tag_sum[idx] + tags
        if self.pairwise:
            self.tag_list[idx, n - 1] = tags
            full = np.flatnonzero(n % 8 == 0)
            for i in full.tolist():  # numpy's pairwise sum regroups its blocks of 8: sum as numpy does
                total[i] = np.add.reduce(self.tag_list[idx[i], :n[i]], axis=0)
        self.tag_sum[idx] = total
        self.mean[idx] = total / n[:, None]  # float64 division, stored as float32: what np.mean returns


def sum_last(x: np.ndarray) -> np.ndarray:
    """x.sum(axis=-1) with numpy's own rounding (sequential below 8 terms), without its slow short inner loop."""
    d = x.shape[-1]
    if d >= 8:
        return np.add.reduce(x, axis=-1)
    total = x[..., 0].copy()
    for i in range(1, d):
        total += x[..., i]
    return total


def tag_distance(tags: np.ndarray, means: np.ndarray, kind: str) -> np.ndarray:
    """(n, P) float64 distance between tags (n, D) float64 and means (P, D): "rms" or "l2"."""
    if tags.shape[1] == 1:  # sqrt of a square is exactly the absolute value
        return np.abs(tags - means[:, 0])
    diff = tags[:, None, :] - means[None, :, :]
    sq = sum_last(diff * diff)
    if kind == "rms":
        sq /= tags.shape[1]
    return np.sqrt(sq, out=sq)


def group(cand: Candidates, params: GroupingParams, joints: int) -> np.ndarray:
    """People (P, joints, 3 + D) float32 (x, y, value, tags; zeros for joints not found), in creation order."""
    dim = cand.tags.shape[1]
    rows_all = np.concatenate([cand.xy, cand.val[:, None], cand.tags], axis=1)
    tags64 = cand.tags.astype(np.float64)
    val64 = cand.val.astype(np.float64)
    keys_all = cand.tags[:, 0].tolist() if params.keys == "first_tag" else None
    # values fall within a joint, so the candidates above the threshold are a prefix of each joint's rows
    above = np.concatenate(([0], np.cumsum(cand.val > params.detection_threshold))).tolist()
    starts = cand.starts.tolist()
    people = _People(max(above[-1], 1), joints, dim)
    keys: dict[float, int] = {}
    for j in params.order:
        lo = starts[j]
        hi = lo + above[starts[j + 1]] - above[lo]
        if hi == lo:
            continue
        rows, tags = rows_all[lo:hi], cand.tags[lo:hi]
        new_keys = keys_all[lo:hi] if keys_all is not None else None
        if people.count == 0:
            _start_people(people, keys, j, rows, tags, new_keys)
            continue
        p = min(people.count, params.max_people) if params.match_first_only else people.count
        if params.ignore_too_much and p == params.max_people:
            continue
        col, matched = _match(val64[lo:hi], tags64[lo:hi], people.mean[:p], params)
        _apply(people, keys, j, rows, tags, col, matched, new_keys)
    return people.joints[:people.count].copy()


def _match(val: np.ndarray, tags: np.ndarray, means: np.ndarray, params: GroupingParams) -> tuple[np.ndarray, np.ndarray]:
    """Column (person) of each candidate and whether that match stands (closer than tag_threshold)."""
    n, p = len(val), len(means)
    if n * p <= _SMALL and params.solver == "munkres":
        return _match_small(val, tags, means, params)
    dist = tag_distance(tags, means, params.distance)
    # the reference's solver needs columns >= rows: dummy columns at a huge cost take the leftover candidates
    pad = params.solver == "munkres" and n > p
    full = np.full((n, n), _PAD_COST) if pad else np.empty((n, p))
    cost = full[:, :p]
    if params.use_detection_value:
        np.rint(dist, out=cost)
        cost *= 100
        cost -= val[:, None]
    else:
        cost[:] = dist
    col = munkres_assignment(full) if params.solver == "munkres" else scipy_assignment(full)
    real = (col >= 0) & (col < p)
    matched = real & (dist.ravel()[np.arange(0, n * p, p) + np.minimum(col, p - 1)] < params.tag_threshold)
    return col, matched


def _match_small(val: np.ndarray, tags: np.ndarray, means: np.ndarray,
                 params: GroupingParams) -> tuple[np.ndarray, np.ndarray]:
    """_match in plain Python floats for a few candidates and people: the same float64 arithmetic, in the
    same order, without numpy's per-call cost (one or two people are common)."""
    n, p = len(val), len(means)
    d = tags.shape[1]
    scale = d if params.distance == "rms" else 1
    t, m, v = tags.tolist(), means.tolist(), val.tolist()
    dist = []
    for tr in t:
        row = []
        for mc in m:
            sq = (tr[0] - mc[0]) * (tr[0] - mc[0])
            for k in range(1, d):
                sq += (tr[k] - mc[k]) * (tr[k] - mc[k])
            row.append(math.sqrt(sq / scale) if scale > 1 else math.sqrt(sq))
        dist.append(row)
    if params.use_detection_value:
        cost = [[round(x) * 100.0 - v[r] for x in row] for r, row in enumerate(dist)]
    else:
        cost = [list(row) for row in dist]
    if n > p:
        cost = [row + [_PAD_COST] * (n - p) for row in cost]
    col = munkres_lists(cost)
    matched = [c < p and dist[r][c] < params.tag_threshold for r, c in enumerate(col)]
    return np.array(col, np.int64), np.array(matched, bool)


def _start_people(people: _People, keys: dict[float, int], j: int, rows: np.ndarray, tags: np.ndarray,
                  new_keys: list[float] | None) -> None:
    """Every candidate of the first joint starts a person (equal keys: the later one overwrites)."""
    if new_keys is not None and len(set(new_keys)) < len(new_keys):
        for r, key in enumerate(new_keys):
            _new_or_overwrite(people, keys, key, j, rows[r:r + 1], tags[r:r + 1])
        return
    idx = people.start(j, rows, tags)
    if new_keys is not None:
        keys.update(zip(new_keys, idx.tolist()))


def _apply(people: _People, keys: dict[float, int], j: int, rows: np.ndarray, tags: np.ndarray,
           col: np.ndarray, matched: np.ndarray, row_keys: list[float] | None) -> None:
    """Add matched candidates to their people and start people for the others, in row order."""
    n_match = int(np.count_nonzero(matched))
    new_keys = None
    if n_match < len(rows) and row_keys is not None:
        new_keys = [k for k, m in zip(row_keys, matched.tolist()) if not m]
        if len(set(new_keys)) < len(new_keys) or any(k in keys for k in new_keys):
            _apply_in_order(people, keys, j, rows, tags, col, matched)  # key collisions: replay row by row
            return
    if n_match == len(rows):
        people.add(col, j, rows, tags)
        return
    if n_match:
        people.add(col[matched], j, rows[matched], tags[matched])
    new = ~matched
    idx = people.start(j, rows[new], tags[new])
    if new_keys is not None:
        keys.update(zip(new_keys, idx.tolist()))


def _apply_in_order(people: _People, keys: dict[float, int], j: int, rows: np.ndarray, tags: np.ndarray,
                    col: np.ndarray, matched: np.ndarray) -> None:
    """The reference's row loop, for when a new candidate's key equals an existing person's."""
    for r in range(len(rows)):
        if matched[r]:
            people.add(col[r:r + 1], j, rows[r:r + 1], tags[r:r + 1])
        else:
            _new_or_overwrite(people, keys, float(tags[r, 0]), j, rows[r:r + 1], tags[r:r + 1])


def _new_or_overwrite(people: _People, keys: dict[float, int], key: float, j: int, row: np.ndarray,
                      tag: np.ndarray) -> None:
    """dict.setdefault semantics: an existing key gets joint j overwritten and its tag list restarted."""
    if key in keys:
        people.reset(np.array([keys[key]]), j, row, tag)
    else:
        keys[key] = int(people.start(j, row, tag)[0])
