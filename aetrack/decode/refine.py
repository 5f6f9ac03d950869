"""After grouping: the quarter-pixel step toward the higher neighbour, and filling each person's missing joints.

Filling (the paper's "missing joints" step): for a person with mean tag m and a joint it lacks, take the pixel
that maximises heatmap - round(|tag - m|) over that joint's maps (first pixel in row-major order on ties).
`best_pixels` finds that pixel exactly as the reference's float32 formula does, without scanning every pixel
for most people: the value never exceeds the heatmap value, so a person whose best among the joint's highest
heatmap pixels beats every other heatmap value is done there.
"""
from __future__ import annotations

import numpy as np

_TOP = 128           # how many of a joint's highest heatmap pixels to try before whole maps
_CELLS = 1 << 14     # (person, pixel) pairs evaluated at once: 64 KiB arrays stay in cache (measured best)


def quarter_offsets(det: np.ndarray, joint: np.ndarray, x: np.ndarray, y: np.ndarray,
                    clamp_h: int | None = None, clamp_w: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(+-0.25, +-0.25) toward the higher neighbour in x and in y of det (J, H, W) at integer pixels (x, y).

    Equal neighbours give -0.25. The clamps are the last index used for the neighbour after x + 1 / y + 1
    (normally W - 1 / H - 1; the reference's refinement uses other ones).
    """
    _, h, w = det.shape
    ch = h - 1 if clamp_h is None else clamp_h
    cw = w - 1 if clamp_w is None else clamp_w
    right = det[joint, y, np.minimum(x + 1, cw)]
    left = det[joint, y, np.maximum(x - 1, 0)]
    down = det[joint, np.minimum(y + 1, ch), x]
    up = det[joint, np.maximum(y - 1, 0), x]
    return np.where(right > left, 0.25, -0.25), np.where(down > up, 0.25, -0.25)


def adjust(people: np.ndarray, det: np.ndarray) -> np.ndarray:
    """people (P, J, 3 + D) with integer pixel x, y -> x, y + quarter step + 0.5 for found joints (in place)."""
    p, j = np.nonzero(people[:, :, 2] > 0)
    if len(p) == 0:
        return people
    x = people[p, j, 0].astype(np.int64)
    y = people[p, j, 1].astype(np.int64)
    dx, dy = quarter_offsets(det, j, x, y)
    people[p, j, 0] = (people[p, j, 0] + dx.astype(np.float32)) + np.float32(0.5)
    people[p, j, 1] = (people[p, j, 1] + dy.astype(np.float32)) + np.float32(0.5)
    return people


def numpy_mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """np.mean(values[p, :counts[p]], axis=0) for every p of values (P, L, D) float32, bit for bit, vectorised.

    Slots past a person's count must hold zeros. numpy sums a (n, 1) array pairwise (8 partial sums once n >= 8)
    and a (n, D > 1) array row by row, in float32, then divides in float64.
    """
    p, length, d = values.shape
    if d == 1 and length > 23:  # beyond three blocks of 8 the emulation below does not apply: ask numpy
        return np.array([np.mean(values[i, :counts[i]], axis=0) for i in range(p)], np.float32).reshape(p, d)
    total = values[:, 0].copy()
    for i in range(1, length):  # sequential float32 sum; the zeros past the count add nothing
        total += values[:, i]
    if d == 1 and length >= 8:
        padded = np.zeros((p, max(length, 17), 1), np.float32)
        padded[:, :length] = values
        r = padded[:, :8]
        mid = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
        for i in range(8, 16):
            mid = mid + padded[:, i]
        r = padded[:, :8] + padded[:, 8:16]
        high = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
        for i in range(16, padded.shape[1]):
            high = high + padded[:, i]
        n = counts[:, None]
        total = np.where(n >= 16, high, np.where(n >= 8, mid, total))
    return (total / np.maximum(counts, 1)[:, None]).astype(np.float32)


def person_tags(people: np.ndarray, tag: np.ndarray) -> np.ndarray:
    """(P, D) float32 mean tag of each person's found joints, read from tag (J, H, W, D) at their pixels.

    Joints in index order and float32 rounding as np.mean gives, as the reference's refinement computes it.
    """
    j_count, h, w = tag.shape[:3]
    found = people[:, :, 2] > 0
    p_idx, j_idx = np.nonzero(found)
    x = np.clip(people[p_idx, j_idx, 0].astype(np.int64), 0, w - 1)
    y = np.clip(people[p_idx, j_idx, 1].astype(np.int64), 0, h - 1)
    values = np.zeros((len(people), j_count, tag.shape[-1]), np.float32)
    values[p_idx, j_idx] = tag[j_idx, y, x]
    return mean_of_found(values, found)


def mean_of_found(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(P, D) np.mean over each person's found joints (in joint order) of values (P, J, D), found (P, J)."""
    counts = found.sum(axis=1)
    slot = np.cumsum(found, axis=1) - 1  # position of each found joint among the person's found ones
    p_idx, j_idx = np.nonzero(found)
    compact = np.zeros_like(values, dtype=np.float32)
    compact[p_idx, slot[p_idx, j_idx]] = values[p_idx, j_idx]
    return numpy_mean(compact, counts)


def _plane_values(det: np.ndarray, planes: list[np.ndarray], prev: np.ndarray) -> np.ndarray:
    """det - round(|tag - prev|) in float32 as the reference computes it, from tag components as planes.

    det and each plane (Q, K); prev (Q, D). The squares are summed in numpy's order (sequential below 8). With
    one component sqrt(d * d) is |d| exactly in float32 (the caller keeps |d| far from overflow).
    """
    if len(planes) == 1:
        acc = planes[0] - prev[:, 0:1]
        np.abs(acc, out=acc)
    elif len(planes) >= 8:
        diff = np.stack(planes, axis=-1) - prev[:, None, :]
        acc = np.sqrt(np.add.reduce(diff * diff, axis=-1))
    else:
        acc = planes[0] - prev[:, 0:1]
        acc *= acc
        for k in range(1, len(planes)):
            sq = planes[k] - prev[:, k:k + 1]
            sq *= sq
            acc += sq
        np.sqrt(acc, out=acc)
    np.rint(acc, out=acc)
    return np.subtract(det, acc, out=acc)


def best_pixels(det: np.ndarray, tag: np.ndarray, joint: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """(Q,) flat index of argmax over pixels of det[j] - round(|tag[j] - prev|) for each query (joint, prev (Q, D)).

    Exact: equal to np.argmax of the full float32 map (first pixel on ties). The value never exceeds the heatmap
    value, so a query is settled on its joint's highest heatmap pixels once its best value there beats every
    heatmap value outside them; the rest scan the whole map, a few queries at a time so the work stays in cache.
    """
    q = len(joint)
    j_count, h, w = det.shape
    hw = h * w
    result = np.zeros(q, np.int64)
    if q == 0:
        return result
    prev = prev.astype(np.float32)
    if tag.shape[-1] == 1 and max(np.abs(tag).max(), np.abs(prev).max()) > 1e18:
        tag = np.concatenate([tag, np.zeros_like(tag)], axis=-1)  # squares would overflow: keep the formula
        prev = np.concatenate([prev, np.zeros_like(prev)], axis=-1)
    joints, g = np.unique(joint, return_inverse=True)
    dets = det.reshape(j_count, hw)[joints]
    planes = [np.ascontiguousarray(tag[joints, ..., k]).reshape(len(joints), hw) for k in range(tag.shape[-1])]
    rest = np.arange(q)
    top = min(_TOP, hw - 1)
    if top >= 1:
        part = np.argpartition(-dets, top, axis=1)
        idx = np.sort(part[:, :top], axis=1)  # in pixel order, so that argmax picks the first pixel on ties
        outside = dets[np.arange(len(joints)), part[:, top]]  # the highest heatmap value not tried
        top_det = np.take_along_axis(dets, idx, axis=1)
        top_planes = [np.take_along_axis(pl, idx, axis=1) for pl in planes]
        unsettled = []
        block = max(_CELLS // top, 1)
        for s in range(0, q, block):
            qs = rest[s:s + block]
            rg = g[qs]
            vals = _plane_values(top_det[rg], [tp[rg] for tp in top_planes], prev[qs])
            at = vals.argmax(axis=1)
            best = vals[np.arange(len(qs)), at]
            result[qs] = idx[rg, at]
            unsettled.append(qs[best <= outside[rg]])
        rest = np.concatenate(unsettled)
    chunk = max(_CELLS // hw, 1)
    for s in range(0, len(rest), chunk):
        qs = rest[s:s + chunk]
        vals = _plane_values(dets[g[qs]], [pl[g[qs]] for pl in planes], prev[qs])
        result[qs] = vals.argmax(axis=1)
    return result


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
    y, x = flat // w, flat % w
    val = det[j_idx, y, x]
    ok = val > 0
    p_idx, j_idx, x, y, val = p_idx[ok], j_idx[ok], x[ok], y[ok], val[ok]
    dx = dy = 0.0
    if quarter:
        clamp = dict(clamp_h=j_count - 1, clamp_w=h - 1) if reference_clamps else {}
        dx, dy = quarter_offsets(det, j_idx, x, y, **clamp)
    people[p_idx, j_idx, 0] = x + 0.5 + dx
    people[p_idx, j_idx, 1] = y + 0.5 + dy
    people[p_idx, j_idx, 2] = 1.0 if score_one else val
    if fill_tags:
        people[p_idx, j_idx, 3:] = tag[j_idx, y, x]
    return people
