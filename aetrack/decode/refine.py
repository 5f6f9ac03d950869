"""After grouping: the quarter-pixel step toward the higher neighbour, and filling each person's missing joints.

Filling (the paper's "missing joints" step): for a person with mean tag m and a joint it lacks, take the pixel
that maximises heatmap - round(|tag - m|) over that joint's maps (first pixel in row-major order on ties).
`best_pixels` finds that pixel exactly as the reference's float32 formula does, without scanning every pixel
for most people. The value never exceeds the heatmap value, so a person whose best among the joint's highest
heatmap pixels beats all the others is done there; and a pixel whose tag is more than k + 1/2 away scores at
most the joint's highest heatmap value minus k + 1, so once some pixel with a near tag scores more, only the
pixels with near tags (runs of the joint's pixels sorted by tag) need to be looked at.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from aetrack.decode.candidates import Candidates

_TOP = 128           # how many of a joint's highest heatmap pixels to try first ...
_TOP_QUERIES = 16    # ... on joints with at least this many queries (finding those pixels costs a few scans)
_BINS = 32           # tag bins per unit when sorting a joint's pixels by tag
_LONG_RUN = 8        # runs of near tags longer than 1 / _LONG_RUN of the map are left to a whole-map scan
_MAX_REACH = 1 << 16  # beyond this many rounding levels a query scans the whole map
# when sorting a joint's pixels by tag pays: costs in microseconds for a 64 x 64 map (measured; their ratios
# are what matters)
_INDEX_COST = 11.0   # sorting a joint's pixels by tag
_RUN_COST = 1.2      # the best of one query's pixels with near tags
_SCAN_COST = 1.7     # one query's whole-map scan with 1-D tags ...
_SCAN_COST_PER_DIM = 2.6  # ... and more for each further tag dimension
_CELLS = 1 << 15     # pixels (or person, pixel pairs) worked on at once (measured best: larger ones page-fault)
_SCAN_CELLS = 1 << 16  # (person, pixel) pairs evaluated at once by a whole-map scan, in reused buffers


def quarter_offsets(det: np.ndarray, joint: np.ndarray, x: np.ndarray, y: np.ndarray,
                    clamp_h: int | None = None, clamp_w: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(+-0.25, +-0.25) toward the higher neighbour in x and in y of det (J, H, W) at integer pixels (x, y).

    Equal neighbours give -0.25. The clamps are the last index used for the neighbour after x + 1 / y + 1
    (normally W - 1 / H - 1; the reference's refinement uses other ones).
    """
    _, h, w = det.shape
    ch = h - 1 if clamp_h is None else clamp_h
    cw = w - 1 if clamp_w is None else clamp_w
    if ch >= h or cw >= w:  # clamps past the map (tiny maps): let numpy's indexing say so
        right, left = det[joint, y, np.minimum(x + 1, cw)], det[joint, y, np.maximum(x - 1, 0)]
        down, up = det[joint, np.minimum(y + 1, ch), x], det[joint, np.maximum(y - 1, 0), x]
    else:  # the same values read from the flat maps: several times cheaper than 3-index fancy indexing
        flat = det.reshape(-1)
        base = joint * (h * w)
        row = base + y * w
        right, left = flat.take(row + np.minimum(x + 1, cw)), flat.take(row + np.maximum(x - 1, 0))
        down, up = flat.take(base + np.minimum(y + 1, ch) * w + x), flat.take(base + np.maximum(y - 1, 0) * w + x)
    return np.where(right > left, 0.25, -0.25), np.where(down > up, 0.25, -0.25)


def adjust_candidates(cand: Candidates, det: np.ndarray) -> Candidates:
    """Candidates with value > 0 moved from pixel x, y to x, y + the quarter step + 0.5, in float32: what the
    reference does to the found joints of the people they become (grouping never looks at positions, so the
    step can come first, on a few hundred candidates, before they are spread over people)."""
    if len(cand.val) == 0:
        return cand
    j_count, h, w = det.shape
    flat = det.reshape(-1)
    at = np.repeat(np.arange(0, j_count * h * w, h * w), np.diff(cand.starts)) + cand.flat
    x = cand.flat % w
    # quarter_offsets with the neighbours' indices clamped into the map, read from the flat maps
    dx = flat.take(at + (x < w - 1)) > flat.take(at - (x > 0))
    dy = flat.take(at + w * (cand.flat < (h - 1) * w)) > flat.take(at - w * (cand.flat >= w))
    steps = np.where(np.stack([dx, dy], axis=1), np.float32(0.25), np.float32(-0.25))
    xy = (cand.xy + steps) + np.float32(0.5)
    if not (cand.val > 0).all():
        xy = np.where(cand.val[:, None] > 0, xy, cand.xy)
    return replace(cand, xy=xy)


def numpy_mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """np.mean(values[p, :counts[p]], axis=0) for every p of values (P, L, D) float32, bit for bit, vectorised.

    Slots past a person's count must hold zeros. numpy sums a (n, 1) array pairwise (8 partial sums once n >= 8)
    and a (n, D > 1) array row by row, in float32, then divides in float64.
    """
    p, length, d = values.shape
    if d == 1 and length > 23:  # beyond three blocks of 8 the emulation below does not apply: ask numpy
        return np.array([np.mean(values[i, :counts[i]], axis=0) for i in range(p)], np.float32).reshape(p, d)
    total = _sequential_sum(values)  # the zeros past the count add nothing
    if d == 1 and length >= 8:
        padded = np.zeros((p, 24, 1), np.float32)
        padded[:, :length] = values
        # n in [8, 16): the 8 values summed as a tree, then the rest one by one; n in [16, 24): the two blocks
        # of 8 added lane by lane first
        mid = _sequential_sum(np.concatenate([_tree8(padded[:, :8]), padded[:, 8:16]], axis=1))
        high = _sequential_sum(np.concatenate([_tree8(padded[:, :8] + padded[:, 8:16]), padded[:, 16:]], axis=1))
        n = counts[:, None]
        total = np.where(n >= 16, high, np.where(n >= 8, mid, total))
    return (total / np.maximum(counts, 1)[:, None]).astype(np.float32)


def _sequential_sum(values: np.ndarray) -> np.ndarray:
    """(P, D) float32 sum of values (P, L, D) over L, one term after another (accumulate never regroups)."""
    return np.cumsum(values, axis=1)[:, -1]


def _tree8(lanes: np.ndarray) -> np.ndarray:
    """(P, 1, D) ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of lanes (P, 8, D), as numpy combines them."""
    pairs = lanes[:, 0::2] + lanes[:, 1::2]
    quads = pairs[:, 0::2] + pairs[:, 1::2]
    return quads[:, 0:1] + quads[:, 1:2]


def person_tags(people: np.ndarray, tag: np.ndarray) -> np.ndarray:
    """(P, D) float32 mean tag of each person's found joints, read from tag (J, H, W, D) at their pixels.

    Joints in index order and float32 rounding as np.mean gives, as the reference's refinement computes it.
    """
    j_count, h, w, d = tag.shape
    found = people[:, :, 2] > 0
    p_idx, j_idx = np.nonzero(found)
    xy = people[p_idx, j_idx, :2].astype(np.int64)
    x = np.minimum(np.maximum(xy[:, 0], 0), w - 1)
    y = np.minimum(np.maximum(xy[:, 1], 0), h - 1)
    values = tag.reshape(-1, d).take((j_idx * h + y) * w + x, axis=0)
    return _mean_per_person(values, p_idx, found)


def mean_of_found(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(P, D) np.mean over each person's found joints (in joint order) of values (P, J, D), found (P, J)."""
    p_idx, j_idx = np.nonzero(found)
    return _mean_per_person(values[p_idx, j_idx], p_idx, found)


def _mean_per_person(values: np.ndarray, person: np.ndarray, found: np.ndarray) -> np.ndarray:
    """numpy_mean of values (N, D), grouped by person (N,) in order, for the people of found (P, J)."""
    counts = found.sum(axis=1)
    slot = np.arange(len(person)) - (np.cumsum(counts) - counts)[person]  # place among the person's joints
    compact = np.zeros((found.shape[0], found.shape[1], values.shape[1]), np.float32)
    compact[person, slot] = values
    return numpy_mean(compact, counts)


def _plane_values(det: np.ndarray, planes: list[np.ndarray], prev: np.ndarray,
                  out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
    """det - round(|tag - prev|) in float32 as the reference computes it, from tag components as planes.

    det and each plane (Q, K) or broadcastable to it; prev (Q, D). The squares are summed in numpy's order
    (sequential below 8). With one component sqrt(d * d) is |d| exactly in float32 (the caller keeps |d| far
    from overflow). `out` and `scratch` (Q, K) float32, if given, hold the result and a temporary.
    """
    if len(planes) >= 8:
        diff = np.stack(planes, axis=-1) - prev[:, None, :]
        acc = np.sqrt(np.add.reduce(diff * diff, axis=-1), out=out)
    else:
        acc = np.subtract(planes[0], prev[:, 0:1], out=out)
        if len(planes) == 1:
            np.abs(acc, out=acc)
        else:
            acc *= acc
            for k in range(1, len(planes)):
                sq = np.subtract(planes[k], prev[:, k:k + 1], out=scratch)
                sq *= sq
                acc += sq
            np.sqrt(acc, out=acc)
    np.rint(acc, out=acc)
    return np.subtract(det, acc, out=acc)


def best_pixels(det: np.ndarray, tag: np.ndarray, joint: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """(Q,) flat index of argmax over pixels of det[j] - round(|tag[j] - prev|) for each query (joint, prev (Q, D)).

    Exact: equal to np.argmax of the full float32 map (first pixel on ties). On joints with many queries (many
    people lack it), most queries are settled on the joint's highest heatmap pixels (`_settle_among_highest`),
    and where enough are left, on the pixels with tags near their own (`_best_near_tags`); the others scan
    the whole map, joint by joint.
    """
    q = len(joint)
    j_count, h, w = det.shape
    hw = h * w
    if q == 0:
        return np.zeros(0, np.int64)
    prev = prev.astype(np.float32)
    if tag.shape[-1] == 1 and max(np.abs(tag).max(), np.abs(prev).max()) > 1e18:
        tag = np.concatenate([tag, np.zeros_like(tag)], axis=-1)  # squares would overflow: keep the formula
        prev = np.concatenate([prev, np.zeros_like(prev)], axis=-1)
    flat_det = det.reshape(j_count, hw)
    flat_tag = tag.reshape(j_count, hw, tag.shape[-1])
    result = np.zeros(q, np.int64)
    rest = np.arange(q)
    if np.isfinite(prev).all() and not np.isnan(det.max()) and not np.isnan(tag.max()):  # else values may be nan
        if tag.shape[-1] == 1:  # with more tag dimensions, the pixels with near tags settle queries cheaper
            rest = _settle_among_highest(flat_det, flat_tag, joint, prev, result)
        rest = _settle_near_tags(flat_det, flat_tag, joint, prev, rest, result)
    _scan_whole_maps(flat_det, flat_tag, joint, prev, rest, result)
    return result


def _scan_whole_maps(det: np.ndarray, tag: np.ndarray, joint: np.ndarray, prev: np.ndarray, queries: np.ndarray,
                     result: np.ndarray) -> None:
    """result[queries] = argmax over the whole map, joint by joint (its maps broadcast against its queries).

    Blocks of queries share two buffers: fresh arrays this large would cost page faults on every block.
    """
    if len(queries) == 0:
        return
    queries = queries[np.argsort(joint[queries], kind="stable")]
    hw = det.shape[1]
    block = min(max(_SCAN_CELLS // hw, 1), len(queries))
    out, scratch = np.empty((2, block, hw), np.float32)
    for group in np.split(queries, np.flatnonzero(np.diff(joint[queries])) + 1):
        j = joint[group[0]]
        planes = [np.ascontiguousarray(tag[j, :, k])[None] for k in range(tag.shape[-1])]
        for s in range(0, len(group), block):
            qs = group[s:s + block]
            values = _plane_values(det[j][None], planes, prev[qs], out[:len(qs)], scratch[:len(qs)])
            result[qs] = values.argmax(axis=1)


def _settle_among_highest(det: np.ndarray, tag: np.ndarray, joint: np.ndarray, prev: np.ndarray,
                          result: np.ndarray) -> np.ndarray:
    """Settle queries on their joint's _TOP highest heatmap pixels, on joints with at least _TOP_QUERIES
    queries; writes result, returns the queries left.

    det (J, HW), tag (J, HW, D). The value never exceeds the heatmap value, so a query whose best value there
    beats every heatmap value outside them is done.
    """
    hw = det.shape[1]
    top = min(_TOP, hw - 1)
    per_joint = np.bincount(joint, minlength=det.shape[0])
    queries = np.flatnonzero(per_joint[joint] >= _TOP_QUERIES)
    if top < 1 or len(queries) == 0:
        return np.arange(len(joint))
    rows, row_of = np.unique(joint[queries], return_inverse=True)
    dets = det[rows]
    part = np.argpartition(dets, hw - top - 1, axis=1)[:, hw - top - 1:]  # the top + 1 highest, that one first
    outside = np.take_along_axis(dets, part[:, :1], axis=1)[:, 0]  # the highest heatmap value not tried
    idx = np.sort(part[:, 1:], axis=1)  # in pixel order, so that argmax picks the first pixel on ties
    top_det = np.take_along_axis(dets, idx, axis=1)
    top_tag = tag[rows[:, None], idx]
    settled = np.zeros(len(joint), bool)
    block = max(_CELLS // top, 1)
    for s in range(0, len(queries), block):
        qs, r = queries[s:s + block], row_of[s:s + block]
        values = _plane_values(top_det[r], [top_tag[r, :, k] for k in range(tag.shape[-1])], prev[qs])
        at = values.argmax(axis=1)
        done = values[np.arange(len(qs)), at] > outside[r]
        result[qs[done]] = idx[r[done], at[done]]
        settled[qs[done]] = True
    return np.flatnonzero(~settled)


def _settle_near_tags(det: np.ndarray, tag: np.ndarray, joint: np.ndarray, prev: np.ndarray,
                      queries: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Settle what `_best_near_tags` can of the queries, on joints with enough of them that sorting the joint's
    pixels costs less than scanning its maps once per query; writes result, returns the queries left."""
    per_joint = np.bincount(joint[queries], minlength=det.shape[0])
    saved = _SCAN_COST + _SCAN_COST_PER_DIM * (tag.shape[-1] - 1) - _RUN_COST  # per query
    sel = queries[per_joint[joint[queries]] * saved > _INDEX_COST]
    if len(sel) == 0:
        return queries
    sel = sel[np.lexsort((prev[sel, 0], joint[sel]))]  # in key order: searches and reads stay local
    at, settled = _best_near_tags(det, tag, joint[sel], prev[sel])
    result[sel[settled]] = at[settled]
    return np.setdiff1d(queries, sel[settled], assume_unique=True)


def _best_near_tags(det: np.ndarray, tag: np.ndarray, joint: np.ndarray,
                    prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """best_pixels for the queries it can settle from pixels with near tags: (Q,) flat index, (Q,) settled.

    det (J, HW), tag (J, HW, D). A pixel whose first tag component is more than k + 1/2 (and a margin for float32
    rounding) from the query's has round(distance) >= k + 1, so its value is at most max(det[j]) - (k + 1)
    (rounding is monotonic). The pixels within that reach are a run of the joint's pixels sorted by tag; when
    the best of them scores above that bound, it is the answer. First with k = 0 (plus the run's two neighbours,
    so that every query gets a value); then, for the queries left, with the k that their value guarantees.
    """
    q = len(joint)
    result = np.zeros(q, np.int64)
    settled = np.zeros(q, bool)
    if not (np.isfinite(prev).all() and np.isfinite(det.max())):
        return result, settled
    index = _TagIndex(tag[:, :, 0], joint)
    if index.keys is None:  # non-finite tags: leave everything to the whole-map scan
        return result, settled
    centre = prev[:, 0].astype(np.float64)
    top = det.max(axis=1)[joint]
    lo, hi = index.runs(joint, centre, np.zeros(q), widen=True)
    hi = np.where(hi - lo > det.shape[1] // _LONG_RUN, lo, hi)  # long runs: a whole-map scan is cheaper
    best, at = _best_in_runs(det, tag, index, prev, lo, hi)
    done = best > top - np.float32(1)
    reach = np.floor(top.astype(np.float64) - best)  # every pixel scoring more than `best` is this near
    again = np.flatnonzero(~done & (reach < _MAX_REACH))
    if len(again):
        lo, hi = index.runs(joint[again], centre[again], reach[again])
        hi = np.where(hi - lo > det.shape[1] // _LONG_RUN, lo, hi)
        best2, at2 = _best_in_runs(det, tag, index, prev[again], lo, hi)
        ok = best2 > top[again] - (reach[again] + 1).astype(np.float32)
        at[again[ok]] = at2[ok]
        done[again[ok]] = True
    result[done] = at[done] % det.shape[1]
    settled[done] = True
    return result, settled


def _best_in_runs(det: np.ndarray, tag: np.ndarray, index: _TagIndex, prev: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best value and its flat index into det (J, HW) (lowest on ties) of each query over its run [lo, hi) of
    the index; -inf where a run is empty. Runs are taken about _CELLS pixels at a time."""
    q = len(prev)
    best = np.full(q, -np.inf, np.float32)
    at = np.zeros(q, np.int64)
    some = np.flatnonzero(hi > lo)
    if len(some) == 0:
        return best, at
    length = (hi - lo)[some]
    first = np.cumsum(length) - length
    cuts = np.flatnonzero(np.diff(first // _CELLS)) + 1
    for part in np.split(np.arange(len(some)), cuts):
        sel = some[part]
        best[sel], at[sel] = _best_in_some_runs(det, tag, index, prev[sel], lo[sel], length[part])
    return best, at


def _best_in_some_runs(det: np.ndarray, tag: np.ndarray, index: _TagIndex, prev: np.ndarray, lo: np.ndarray,
                       length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_best_in_runs for non-empty runs, all at once."""
    first = np.cumsum(length) - length  # where each run starts in the concatenation
    pos = np.arange(int(first[-1] + length[-1])) + np.repeat(lo - first, length)
    where = index.flat_index(pos)
    d = tag.shape[-1]
    near = tag.reshape(-1, d).take(where, axis=0)
    values = _plane_values(det.reshape(-1).take(where)[:, None], [near[:, k:k + 1] for k in range(d)],
                           np.repeat(prev, length, axis=0))[:, 0]
    best = np.maximum.reduceat(values, first)
    at = np.minimum.reduceat(np.where(values == np.repeat(best, length), where, det.size), first)
    return best, at


class _TagIndex:
    """The pixels of the queried joints sorted by tag bin (1 / _BINS wide), to find runs of pixels with near tags.

    tags (J, HW) float32: each joint's first tag component; joints: those queried. Row r of `keys` holds, in
    increasing order, the keys ((r << bin bits) + bin + offset) << pixel bits | pixel, in int32 where they fit
    (int64 otherwise), so the flat array is sorted too. Bins are floor(tag * _BINS), exact, clamped to the key's
    range (which only makes runs longer) the same way for pixels and queries. `keys` is None where a tag is nan.
    """

    def __init__(self, tags: np.ndarray, joints: np.ndarray) -> None:
        present = np.bincount(joints, minlength=len(tags)) > 0
        self.joints = np.flatnonzero(present)
        self.row_of = np.cumsum(present) - 1  # row of each joint
        count, self.hw = len(self.joints), tags.shape[1]
        self.bits = max((self.hw - 1).bit_length(), 1)
        self.bin_bits = 31 - self.bits - count.bit_length()  # row fields up to `count`: one past the last fits
        self.dtype = np.int32
        if self.bin_bits < 10:
            self.bin_bits += 32
            self.dtype = np.int64
        self.offset = 1 << (self.bin_bits - 1)
        # bins clamped to [-offset, high]; high is the last float32 below offset (offset - 1 may not be one)
        self.high = float(np.nextafter(np.float32(self.offset), np.float32(0)))
        binned = tags[self.joints] * np.float32(_BINS)
        np.floor(binned, out=binned)
        np.clip(binned, -self.offset, self.high, out=binned)
        self.keys = None
        if np.isnan(binned).any():
            return
        rows = ((np.arange(count, dtype=self.dtype) << self.bin_bits) + self.offset)[:, None]
        if self.offset <= 1 << 15:  # bins fit int16: numpy's stable sort is then a radix sort, several times
            bins = binned.astype(np.int16)  # faster; stable keeps pixels in order within a bin, as the keys do
            pixels = np.argsort(bins, axis=1, kind="stable")
            keys = np.take_along_axis(bins, pixels, axis=1).astype(self.dtype)
            keys += rows
            keys <<= self.bits
            keys |= pixels.astype(self.dtype)
        else:
            keys = binned.astype(self.dtype)
            keys += rows
            keys <<= self.bits
            keys |= np.arange(self.hw, dtype=self.dtype)
            keys.sort(axis=1)
        self.keys = keys.reshape(-1)

    def runs(self, joint: np.ndarray, centre: np.ndarray, reach: np.ndarray,
             widen: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Positions [lo, hi) in `keys` of the pixels of each joint whose first tag component may be within
        reach + 1/2 of centre (every such pixel is in). `widen` adds the pixel on either side, if any."""
        row = self.row_of[joint]
        margin = (reach + 0.5) * (1 + 1e-5) + 0.002
        lo = np.searchsorted(self.keys, self._key(row, centre - margin))
        hi = np.searchsorted(self.keys, self._key(row, centre + margin) + (1 << self.bits))  # to the bin's end
        if widen:
            lo = np.maximum(lo - 1, row * self.hw)
            hi = np.minimum(hi + 1, (row + 1) * self.hw)
        return lo, hi

    def _key(self, row: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Smallest key of the bin of each value (float64) in each row, bins clamped like the pixels'."""
        b = np.clip(np.floor(value * _BINS), -self.offset, self.high).astype(np.int64)
        return (((row << self.bin_bits) + b + self.offset) << self.bits).astype(self.dtype)

    def flat_index(self, pos: np.ndarray) -> np.ndarray:
        """Flat index into the (J, HW) maps of the pixel at each position of `keys`."""
        keys = self.keys.take(pos)
        joint = self.joints.take(keys >> (self.bin_bits + self.bits))
        return joint * self.hw + (keys & ((1 << self.bits) - 1))


def fill_missing(people: np.ndarray, det: np.ndarray, tag: np.ndarray, score_one: bool,
                 reference_clamps: bool = False, quarter: bool = True, fill_tags: bool = False) -> np.ndarray:
    """Fill joints with score 0 of people (P, J, 3 + D) in place, from det (J, H, W) and tag (J, H, W, D).

    The new joint sits at the best pixel + 0.5 (+ the quarter step when `quarter`), with score 1 (the
    reference, `score_one`) or the heatmap value; its tag stays 0 unless `fill_tags`. A joint whose best pixel
    has heatmap value <= 0 stays missing. `reference_clamps` reproduces the reference's neighbour clamps (it
    bounds y + 1 by the number of joints and x + 1 by the height).
    """
    if len(people) == 0:
        return people
    j_count, h, w = det.shape
    p_idx, j_idx = np.nonzero(people[:, :, 2] == 0)
    if len(p_idx) == 0:
        return people
    prev = person_tags(people, tag)
    flat = best_pixels(det, tag, j_idx, prev[p_idx])
    at = j_idx * (h * w) + flat  # into the flat maps
    val = det.reshape(-1).take(at)
    ok = val > 0
    p_idx, j_idx, flat, at, val = p_idx[ok], j_idx[ok], flat[ok], at[ok], val[ok]
    y, x = np.divmod(flat, w)
    dx = dy = 0.0
    if quarter:
        clamp = dict(clamp_h=j_count - 1, clamp_w=h - 1) if reference_clamps else {}
        dx, dy = quarter_offsets(det, j_idx, x, y, **clamp)
    target, where = people, (p_idx, j_idx)
    if people.flags.c_contiguous:  # (person, joint) rows of a view: 2-index writes are cheaper
        target, where = people.reshape(-1, people.shape[2]), (p_idx * j_count + j_idx,)
    target[where + (0,)] = x + 0.5 + dx
    target[where + (1,)] = y + 0.5 + dy
    target[where + (2,)] = 1.0 if score_one else val
    if fill_tags:
        target[where + (slice(3, None),)] = tag.reshape(-1, tag.shape[3]).take(at, axis=0)
    return people
