"""Grouping joint candidates into people by their tags (the paper's section 3.2), joint by joint.

One implementation serves the reference's faithful mode, mmpose's and ours; `GroupingParams` says which.
Joints are taken in `order`; each joint's candidates are matched to the people found so far with a
minimum-cost assignment on cost = round(tag distance) * 100 - heatmap value (or the distance alone), a match
further than `tag_threshold` starts a new person, and so does every candidate left without a person.
People keyed by index with tags of two or more dimensions (our decoder) take each joint at once, in numpy
(`_group_by_index`); the other modes go candidate by candidate (`_People`); both give the same people, bit for bit.
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
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
    """People under construction, in plain Python (a frame has a few hundred candidates at most).

    Each person has its joints (joint -> candidate row) and its tag list's running sum and mean. Tag means follow
    np.mean over the list in float32, bit for bit: sequential float32 sums for D > 1, numpy's pairwise sum
    (blocks of 8) for D == 1, then a float64 division rounded to float32; the reference's decisions hinge on these
    values. Sums and means live in float32 arrays ('f'): a sum or quotient of float32 values computed in double
    and stored there is the correctly rounded float32 result.
    """

    def __init__(self, capacity: int, joints: int, dim: int) -> None:
        self.count = 0
        self.joints = joints
        self.dim = dim
        self.slots: dict[int, int] = {}   # person * joints + joint -> candidate row (a later write wins)
        self.tag_count: list[int] = []
        self.tag_sum = array("f", bytes(4 * capacity * dim))
        self.mean = array("f", bytes(4 * capacity * dim))
        self.pairwise = dim == 1
        self.tag_list: list[list[float]] = []  # kept only where numpy's pairwise sum needs the whole list

    def means(self, count: int) -> np.ndarray:
        """(count, D) float32 view of the tag means of the first `count` people."""
        return np.frombuffer(self.mean, np.float32, count * self.dim).reshape(count, self.dim)

    def start(self, j: int, row: int, tag: Sequence[float]) -> int:
        """A new person with joint j at candidate row `row` and this tag; returns its index."""
        self.count += 1
        self.tag_count.append(0)
        self.tag_list.append([])
        self.reset(self.count - 1, j, row, tag)
        return self.count - 1

    def reset(self, person: int, j: int, row: int, tag: Sequence[float]) -> None:
        """Set joint j of a person and restart its tag list with this joint's tag."""
        self.slots[person * self.joints + j] = row
        self.tag_count[person] = 1
        base = person * self.dim
        for k, t in enumerate(tag):
            self.tag_sum[base + k] = t
            self.mean[base + k] = t
        if self.pairwise:
            self.tag_list[person] = [tag[0]]

    def add(self, person: int, j: int, row: int, tag: Sequence[float]) -> None:
        """Set joint j of a person and append the tag to its list."""
        self.slots[person * self.joints + j] = row
        n = self.tag_count[person] + 1
        self.tag_count[person] = n
        total, mean = self.tag_sum, self.mean
        if not self.pairwise:
            base = person * self.dim
            for k, t in enumerate(tag, base):
                total[k] += t
                mean[k] = total[k] / n  # float64 division, rounded to float32: what np.mean returns
            return
        values = self.tag_list[person]
        values.append(tag[0])
        if n % 8 == 0:  # numpy's pairwise sum regroups its blocks of 8: sum as numpy does
            total[person] = np.add.reduce(np.array(values, np.float32)[:, None], axis=0)[0]
        else:
            total[person] += tag[0]
        mean[person] = total[person] / n

    def array(self, rows: np.ndarray) -> np.ndarray:
        """(P, J, 3 + D) float32 people from the candidates' rows (C, 3 + D); zeros for joints not found."""
        out = np.zeros((self.count, self.joints, rows.shape[1]), np.float32)
        if self.slots:
            n = len(self.slots)
            where = np.fromiter(self.slots.keys(), np.int64, n)
            out.reshape(-1, rows.shape[1])[where] = rows[np.fromiter(self.slots.values(), np.int64, n)]
        return out


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
    if tags.shape[1] >= 8:
        diff = tags[:, None, :] - means[None, :, :]
        sq = sum_last(diff * diff)
        if kind == "rms":
            sq /= tags.shape[1]
        return np.sqrt(sq, out=sq)
    return _distance_to_columns(tags, means.T.astype(np.float64), kind)


def _distance_to_columns(tags: np.ndarray, columns: np.ndarray, kind: str) -> np.ndarray:
    """tag_distance for 2 <= D < 8 from the means as float64 columns (D, P): one (n, P) plane per dimension,
    summed in order (what sum_last does), without 3-D broadcasting."""
    d = tags.shape[1]
    sq = tags[:, 0:1] - columns[0]
    sq *= sq
    for k in range(1, d):
        term = tags[:, k:k + 1] - columns[k]
        term *= term
        sq += term
    if kind == "rms":
        sq /= d
    return np.sqrt(sq, out=sq)


def group(cand: Candidates, params: GroupingParams, joints: int) -> np.ndarray:
    """People (P, joints, 3 + D) float32 (x, y, value, tags; zeros for joints not found), in creation order."""
    dim = cand.tags.shape[1]
    if params.keys == "index" and 2 <= dim < 8:
        return _group_by_index(cand, params, joints)
    tags = cand.tags.tolist()
    val = cand.val.tolist()
    tags64 = cand.tags.astype(np.float64)
    val64 = cand.val.astype(np.float64)
    # values fall within a joint, so the candidates above the threshold are a prefix of each joint's rows
    above = np.concatenate(([0], np.cumsum(cand.val > params.detection_threshold))).tolist()
    starts = cand.starts.tolist()
    people = _People(max(above[-1], 1), joints, dim)
    keys: dict[float, int] | None = {} if params.keys == "first_tag" else None
    for j in params.order:
        lo = starts[j]
        hi = lo + above[starts[j + 1]] - above[lo]
        if hi == lo:
            continue
        if people.count == 0:
            col, matched = [0] * (hi - lo), [False] * (hi - lo)
        else:
            p = min(people.count, params.max_people) if params.match_first_only else people.count
            if params.ignore_too_much and p == params.max_people:
                continue
            if (hi - lo) * p <= _SMALL and params.solver == "munkres":
                col, matched = _match_small(val[lo:hi], tags[lo:hi], people.means(p).tolist(), params)
            else:
                col, matched = _match(val64[lo:hi], tags64[lo:hi], people.means(p), params)
        for r in range(hi - lo):
            if matched[r]:
                people.add(col[r], j, lo + r, tags[lo + r])
            else:
                _new_person(people, keys, j, lo + r, tags[lo + r])
    return people.array(np.concatenate([cand.xy, cand.val[:, None], cand.tags], axis=1))


def _group_by_index(cand: Candidates, params: GroupingParams, joints: int) -> np.ndarray:
    """group() for people keyed by index, 2 <= D < 8: a joint's matches go to distinct people and the people it
    starts come after them all, so the joint is applied at once. Tag sums and counts in float32 (the counts are
    exact), means as their float32 quotient: `_People`'s means bit for bit (a float64 quotient rounded to float32
    is the same number), kept as float64 columns (D, P) ready for the distances."""
    dim = cand.tags.shape[1]
    tags64 = cand.tags.astype(np.float64)
    val64 = cand.val.astype(np.float64)
    above = np.concatenate(([0], np.cumsum(cand.val > params.detection_threshold))).tolist()
    starts = cand.starts.tolist()
    capacity = max(above[-1], 1)
    counted = np.concatenate([cand.tags, np.ones((len(cand.tags), 1), np.float32)], axis=1)  # (tag, 1)
    totals = np.zeros((capacity, dim + 1), np.float32)  # each person's tag sum and count
    columns = np.zeros((dim, capacity))
    people, spans = [], []  # the person of each joint's candidates, and the joint and rows lo:hi
    count = 0
    for j in params.order:
        lo = starts[j]
        hi = lo + above[starts[j + 1]] - above[lo]
        if hi == lo:
            continue
        if count == 0:
            target = np.arange(hi - lo)
            count = hi - lo
        else:
            p = min(count, params.max_people) if params.match_first_only else count
            if params.ignore_too_much and p == params.max_people:
                continue
            if (hi - lo) * p <= _SMALL and params.solver == "munkres":
                col, matched = _match_small(cand.val[lo:hi].tolist(), cand.tags[lo:hi].tolist(),
                                            columns[:, :p].T.tolist(), params)
                col, matched = np.array(col, np.int64), np.array(matched, bool)
            else:
                col, matched = _assign(_distance_to_columns(tags64[lo:hi], columns[:, :p], params.distance),
                                       val64[lo:hi], params)
            target = col
            if not matched.all():
                target = np.cumsum(~matched) + (count - 1)
                count = int(target[-1]) + 1
                target[matched] = col[matched]
        people.append(target)
        spans.append((j, lo, hi))
        sums = totals[target]
        sums += counted[lo:hi]  # a new person's: its tag, and 1
        totals[target] = sums
        columns[:, target] = (sums[:, :dim] / sums[:, dim:]).T
    out = np.zeros((count, joints, 3 + dim), np.float32)
    if people:
        j, lo, hi = np.array(spans).T
        n = hi - lo
        rows = np.arange(n.sum()) + np.repeat(lo - (np.cumsum(n) - n), n)
        table = np.concatenate([cand.xy, cand.val[:, None], cand.tags], axis=1)
        out.reshape(-1, 3 + dim)[np.concatenate(people) * joints + np.repeat(j, n)] = table[rows]
    return out


def _new_person(people: _People, keys: dict[float, int] | None, j: int, row: int, tag: Sequence[float]) -> None:
    """A candidate no one took starts a person. Keyed by first tag value (the reference's dict.setdefault): an
    existing key gets joint j overwritten and its tag list restarted instead."""
    if keys is None:
        people.start(j, row, tag)
    elif tag[0] in keys:
        people.reset(keys[tag[0]], j, row, tag)
    else:
        keys[tag[0]] = people.start(j, row, tag)


def _match(val: np.ndarray, tags: np.ndarray, means: np.ndarray,
           params: GroupingParams) -> tuple[list[int], list[bool]]:
    """Column (person) of each candidate and whether that match stands (closer than tag_threshold).

    val (n,) and tags (n, D) float64, means (P, D) float32.
    """
    col, matched = _assign(tag_distance(tags, means, params.distance), val, params)
    return col.tolist(), matched.tolist()


def _assign(dist: np.ndarray, val: np.ndarray, params: GroupingParams) -> tuple[np.ndarray, np.ndarray]:
    """_match from the distances (n, P) float64: column (n,) (-1: none) and whether the match stands (n,)."""
    n, p = dist.shape
    if params.solver == "munkres" and n > p:
        # the reference's solver needs columns >= rows: dummy columns at a huge cost take the leftover candidates
        full = np.full((n, n), _PAD_COST)
        cost = full[:, :p]
        if params.use_detection_value:
            np.rint(dist, out=cost)
        else:
            cost[:] = dist
    else:
        full = cost = np.rint(dist) if params.use_detection_value else dist.copy()
    if params.use_detection_value:
        cost *= 100
        cost -= val[:, None]
    col = munkres_assignment(full) if params.solver == "munkres" else scipy_assignment(full)
    if n <= p:  # every candidate has a person
        return col, dist[np.arange(n), col] < params.tag_threshold
    at = dist[np.arange(n), np.minimum(col, p - 1)]  # col -1 (no person) reads any column
    return col, (col >= 0) & (col < p) & (at < params.tag_threshold)


def _match_small(val: list[float], tags: list[list[float]], means: list[list[float]],
                 params: GroupingParams) -> tuple[list[int], list[bool]]:
    """_match in plain Python floats for a few candidates and people: the same float64 arithmetic, in the
    same order, without numpy's per-call cost (one or two people are common)."""
    n, p = len(val), len(means)
    d = len(tags[0])
    scale = d if params.distance == "rms" else 1
    dist = []
    for tr in tags:
        row = []
        for mc in means:
            sq = (tr[0] - mc[0]) * (tr[0] - mc[0])
            for k in range(1, d):
                sq += (tr[k] - mc[k]) * (tr[k] - mc[k])
            row.append(math.sqrt(sq / scale) if scale > 1 else math.sqrt(sq))
        dist.append(row)
    if params.use_detection_value:
        cost = [[round(x) * 100.0 - val[r] for x in row] for r, row in enumerate(dist)]
    else:
        cost = [list(row) for row in dist]
    if n > p:
        cost = [row + [_PAD_COST] * (n - p) for row in cost]
    col = munkres_lists(cost)
    return col, [c < p and dist[r][c] < params.tag_threshold for r, c in enumerate(col)]
