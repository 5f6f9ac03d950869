"""After grouping: the quarter-pixel step toward the higher neighbour, and filling each person's missing joints.

Filling (the paper's "missing joints" step): for a person with mean tag m and a joint it lacks, take the pixel
that maximises heatmap - round(|tag - m|) over that joint's maps (first pixel in row-major order on ties).
`best_pixels` finds that pixel exactly as the reference's float32 formula does, without evaluating it at every
pixel: a pixel whose tag is more than k + 1/2 away scores at most the joint's highest heatmap value minus k + 1,
so once the pixel with the nearest tag is scored, only the pixels with tags within reach can do better. Squared
distances to every pixel come cheaply from one matrix product per joint (all its people at once); the formula
itself runs on the few pixels within reach. With 1-D tags the formula is as cheap as that bound: whole maps.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from aetrack.decode.candidates import Candidates, sparse_flatnonzero

_FILTER_CELLS = 1 << 20  # (query, pixel) pairs the near-tag filter bounds at once, in reused buffers
_SCAN_CELLS = 1 << 16    # (query, pixel) pairs evaluated at once by a whole-map scan, in reused buffers
_NEAR_SHARE = 4          # a query with more than 1 / _NEAR_SHARE of the map within reach scans the whole map
_MAX_REACH = 1 << 20     # ... and so does one that may lose this many rounding levels (float32 stays exact)
_MAX_TAG = 1e12          # mean tags beyond this norm scan the whole map (the squares' float32 bound is useless)


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

    Exact: equal to np.argmax of the full float32 map (first pixel on ties). Queries are settled on the pixels
    with near tags (`_settle_near_tags`); what that cannot settle (non-finite maps, huge tags) scans the whole
    map, joint by joint.
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
    d = tag.shape[-1]
    present = np.bincount(joint, minlength=j_count) > 0
    row = (np.cumsum(present) - 1)[joint]  # of each query, among the queried joints
    flat_det = det.reshape(j_count, hw)
    flat_tag = np.ascontiguousarray(tag).reshape(j_count, hw, d)
    if not present.all():
        flat_det, flat_tag = flat_det[present], flat_tag[present]
    result = np.zeros(q, np.int64)
    if d == 1:  # |tag - m| needs no square root: a whole-map scan costs about what the filter would
        _scan_whole_maps(flat_det, flat_tag.transpose(0, 2, 1), row, prev, np.arange(q), result)
        return result
    planes = np.empty((len(flat_det), d + 1, hw), np.float32)  # tag components, then |tag|^2 (filled later)
    planes[:, :d] = flat_tag.transpose(0, 2, 1)
    rest = _settle_near_tags(flat_det, planes, flat_tag, row, prev, result)
    _scan_whole_maps(flat_det, planes[:, :d], row, prev, rest, result)
    return result


def _scan_whole_maps(det: np.ndarray, planes: np.ndarray, row: np.ndarray, prev: np.ndarray, queries: np.ndarray,
                     result: np.ndarray) -> None:
    """result[queries] = argmax over the whole map, joint by joint (its maps broadcast against its queries).

    det (R, HW) and planes (R, D, HW): the queried joints' heatmaps and tag components; row (Q,): each query's.
    Blocks of queries share two buffers: fresh arrays this large would cost page faults on every block.
    """
    if len(queries) == 0:
        return
    queries = queries[np.argsort(row[queries], kind="stable")]
    hw = det.shape[1]
    block = min(max(_SCAN_CELLS // hw, 1), len(queries))
    out, scratch = np.empty((2, block, hw), np.float32)
    for group in np.split(queries, np.flatnonzero(np.diff(row[queries])) + 1):
        r = row[group[0]]
        components = [planes[r, k][None] for k in range(planes.shape[1])]
        for s in range(0, len(group), block):
            qs = group[s:s + block]
            values = _plane_values(det[r][None], components, prev[qs], out[:len(qs)], scratch[:len(qs)])
            result[qs] = values.argmax(axis=1)


def _settle_near_tags(det: np.ndarray, planes: np.ndarray, tags: np.ndarray, row: np.ndarray, prev: np.ndarray,
                      result: np.ndarray) -> np.ndarray:
    """Settle queries from the pixels whose tags are near enough to matter; writes result, returns the queries
    left (on maps with nan or inf, or mean tags too large for the bound below).

    det (R, HW), tags (R, HW, D): the queried joints' maps; planes (R, D + 1, HW): their tag components, and
    |tag|^2 written here; row (Q,). A pixel with rounded distance k scores at most det.max() - k, so once some
    pixel scores L, only pixels with k <= det.max() - L can win. Squared distances |t|^2 - 2 t.m + |m|^2 come from
    one small matrix product per joint, in float32 and so off by a little (bounded below); the pixels they put
    within reach, the true ones among them, are evaluated exactly with the reference's formula.
    """
    d = planes.shape[1] - 1
    hw = planes.shape[2]
    top = det.max(axis=1)
    wide = prev.astype(np.float64)
    norm2 = (wide * wide).sum(axis=1)
    small = norm2 < _MAX_TAG * _MAX_TAG
    queries = np.flatnonzero(small)
    queries = queries[np.argsort(row[queries], kind="stable")]
    coef = np.empty((len(row), d + 1), np.float32)  # (-2 m, 1): times (t, |t|^2) gives |t - m|^2 - |m|^2
    np.multiply(prev, np.float32(-2), out=coef[:, :d])
    coef[:, d] = 1
    block = min(max(_FILTER_CELLS // hw, 1), max(len(queries), 1))
    shifted = np.empty((block, hw), np.float32)
    near = np.empty((block, hw), bool)
    parts = [np.flatnonzero(~small)]
    with np.errstate(over="ignore", invalid="ignore"):  # inf and nan tags: see _settle_block
        sq = np.multiply(planes[:, 0], planes[:, 0], out=planes[:, d])
        for k in range(1, d):
            sq += planes[:, k] * planes[:, k]
        for s in range(0, len(queries), block):
            qs = queries[s:s + block]
            n = len(qs)
            parts.append(_settle_block(det, planes, tags, top, row[qs], prev[qs], coef[qs], norm2[qs], shifted[:n],
                                       near[:n], qs, result))
    return np.concatenate(parts)


def _settle_block(det: np.ndarray, planes: np.ndarray, tags: np.ndarray, top: np.ndarray, row: np.ndarray,
                  prev: np.ndarray, coef: np.ndarray, norm2: np.ndarray, shifted: np.ndarray, near: np.ndarray,
                  queries: np.ndarray, result: np.ndarray) -> np.ndarray:
    """_settle_near_tags for a block of queries sorted by row, with float errors ignored; shifted (n, HW) float32
    and near (n, HW) bool are work buffers. Returns the queries left."""
    n = len(queries)
    d = planes.shape[1] - 1
    hw = planes.shape[2]
    cuts = (np.flatnonzero(row[1:] != row[:-1]) + 1).tolist()
    for a, b in zip([0, *cuts], [*cuts, n]):
        np.matmul(coef[a:b], planes[row[a]], out=shifted[a:b])  # |t - m|^2 - |m|^2, off by at most `slack`
    # the nearest pixel (a nan one, if a tag is nan) and its value, which the best pixel scores at least; nan and
    # inf values anywhere in the heatmap or there put the query out of reach: a whole-map scan follows the argmax
    lower = _values_at(det, tags, row, shifted.argmin(axis=1), prev)
    # reach: the most rounding levels a pixel may lose and still beat `lower` (lower <= top), checked in float32
    top = top[row]
    reach = np.floor(top.astype(np.float64) - lower)
    far = ~(reach < _MAX_REACH)
    reach[far] = 0
    short = (top - (reach + 1).astype(np.float32) >= lower) & ~far
    while short.any():
        reach[short] += 1
        short = (top - (reach + 1).astype(np.float32) >= lower) & ~far
    # rounded distance <= reach means float32 sqrt(s) <= reach + 1/2, so s <= (reach + 1/2)^2 (1 + 4u); such a
    # pixel's tag is within |m| + reach + 1 of m's, which bounds the float32 errors of both ways of computing s
    u = 2.0 ** -24
    slack = 16 * (d + 2) * u * (2 * np.sqrt(norm2) + reach + 1) ** 2
    bound = np.nextafter(((reach + 0.5) ** 2 * (1 + 4 * u) + slack - norm2).astype(np.float32), np.float32(np.inf))
    bound[far] = -np.inf
    np.less_equal(shifted, bound[:, None], out=near)
    at, pix = np.divmod(sparse_flatnonzero(near), hw)  # by query, then pixel: the first pixel wins ties below
    counts = np.bincount(at, minlength=n)
    ok = (counts > 0) & (counts <= hw // _NEAR_SHARE)
    if not ok.all():
        keep = ok[at]
        at, pix, counts = at[keep], pix[keep], counts[ok]
    if len(at):
        values = _values_at(det, tags, row[at], pix, prev[at])
        first = np.cumsum(counts) - counts
        best = np.maximum.reduceat(values, first)
        result[queries[ok]] = np.minimum.reduceat(np.where(values == np.repeat(best, counts), pix, hw), first)
    return queries[~ok]


def _values_at(det: np.ndarray, tags: np.ndarray, row: np.ndarray, pix: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """(N,) float32 det - round(|tag - prev|) at pixels pix (N,) of rows row (N,) of det (R, HW) and tags
    (R, HW, D), prev (N, D): the exact formula."""
    at = row * det.shape[1] + pix
    found = tags.reshape(-1, tags.shape[2]).take(at, axis=0)
    components = [found[:, k:k + 1] for k in range(found.shape[1])]
    return _plane_values(det.reshape(-1).take(at)[:, None], components, prev)[:, 0]


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
    if not ok.all():
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
