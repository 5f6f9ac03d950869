"""Joint candidates: NMS on heatmaps and the top-k local maxima of every joint, in numpy and in torch.

A candidate is a pixel that equals the maximum of its `kernel` x `kernel` window (the border counts as -inf)
and whose heatmap value is above the detection threshold; each joint keeps its `k` highest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Candidates:
    """Candidates of one image, grouped by joint: those of joint j are rows starts[j]:starts[j + 1].

    xy: (C, 2) float32 x, y in heatmap pixels (pixel indices). val: (C,) float32 heatmap value.
    tags: (C, D) float32 tag at the pixel. flat: (C,) int64 index y * W + x. starts: (J + 1,) int64.
    Within a joint, rows are in decreasing value.
    """

    xy: np.ndarray
    val: np.ndarray
    tags: np.ndarray
    flat: np.ndarray
    starts: np.ndarray

    def joint(self, j: int) -> slice:
        return slice(int(self.starts[j]), int(self.starts[j + 1]))


def nms_keep(det: np.ndarray, kernel: int) -> np.ndarray:
    """(J, H, W) bool: pixels equal to the maximum of their kernel x kernel window (outside counts as -inf)."""
    r = kernel // 2
    j_count, h, w = det.shape
    rows = _shifted_max(det.reshape(-1), r, 1)  # along x, then along y, on the flat maps
    _exact_edges(rows.reshape(j_count, h, w), det, r, axis=2)
    full = _shifted_max(rows, r, w)
    _exact_edges(full.reshape(j_count, h, w), rows.reshape(j_count, h, w), r, axis=1)
    return full.reshape(det.shape) == det


def _shifted_max(flat: np.ndarray, r: int, step: int) -> np.ndarray:
    """Max of flat (N,) and its copies shifted by up to r * step either way: contiguous, so fast, but wrong
    within r of an image edge, where a shift wraps into the next row or map (see _exact_edges)."""
    out = flat.copy()
    for s in range(step, r * step + 1, step):
        if s < len(flat):
            np.maximum(out[s:], flat[:-s], out=out[s:])
            np.maximum(out[:-s], flat[s:], out=out[:-s])
    return out


def _exact_edges(out: np.ndarray, src: np.ndarray, r: int, axis: int) -> None:
    """Redo out (J, H, W) as the max of src over +-r along `axis` (1 or 2) on the first and last r lines."""
    size = src.shape[axis]

    def line(a: np.ndarray, i: int) -> np.ndarray:
        return a[:, :, i] if axis == 2 else a[:, i]

    for i in sorted(set(range(min(r, size))) | set(range(max(size - r, 0), size))):
        lo, hi = max(i - r, 0), min(i + r + 1, size)
        target = line(out, i)
        if hi - lo == 1:
            target[...] = line(src, lo)
            continue
        np.maximum(line(src, lo), line(src, lo + 1), out=target)
        for c in range(lo + 2, hi):
            np.maximum(target, line(src, c), out=target)


def _torch_topk_rows(nms_det: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """torch.topk of each row of nms_det (R, HW): the order the reference gives to equal values."""
    val, ind = torch.from_numpy(np.ascontiguousarray(nms_det)).topk(k, dim=1)
    return val.numpy(), ind.numpy()


def find_candidates(det: np.ndarray, tag: np.ndarray, k: int, threshold: float, kernel: int = 3,
                    torch_ties: bool = False) -> Candidates:
    """Top-k NMS maxima above `threshold` per joint of det (J, H, W), tag (J, H, W, D).

    Equal values are ordered by pixel index, or, with `torch_ties`, as torch.topk orders them on the NMS'd map
    (what the reference does; that order is not by index and decides who is created first).
    """
    j_count, h, w = det.shape
    hw = h * w
    k = min(k, hw)
    flat_det = det.reshape(j_count, hw)
    if threshold < 0:  # suppressed pixels (value 0) pass a negative threshold: let torch.topk choose them
        keep = nms_keep(det, kernel).reshape(j_count, hw)
        return _candidates_from_topk(flat_det * keep, tag, np.arange(j_count), k, threshold, w)
    at = _maxima_above(det, kernel, threshold)
    jj, ii = np.divmod(at, hw)
    val = flat_det.ravel()[at]
    order = np.lexsort((-val, jj))  # by joint, then decreasing value, equal values by index (stable)
    jj, ii, val = jj[order], ii[order], val[order]
    counts = np.bincount(jj, minlength=j_count)
    first = np.concatenate(([0], np.cumsum(counts)))
    rank = np.arange(len(jj)) - first[jj]
    if torch_ties and len(jj) > 1:
        # joints where two of the first k + 1 values are equal: their order (or which one makes the cut) is
        # torch.topk's, so those joints are taken from torch.topk itself
        tie = (val[1:] == val[:-1]) & (jj[1:] == jj[:-1]) & (rank[1:] <= k)
        if tie.any():
            tied = np.flatnonzero(np.bincount(jj[1:][tie], minlength=j_count))
            keep = nms_keep(det[tied], kernel)
            nms_det = flat_det[tied] * keep.reshape(len(tied), hw)
            return _merge_tied(nms_det, tag, jj, ii, val, rank, tied, k, threshold, w)
    sel = rank < k
    return _build(tag, jj[sel], ii[sel], val[sel], j_count, w)


def _maxima_above(det: np.ndarray, kernel: int, threshold: float) -> np.ndarray:
    """Sorted flat indices into det (J, H, W) of the NMS maxima with value > threshold.

    Only the pixels above the threshold are compared with their neighbours; where there are many (more than
    about 2% of the pixels, measured), those that are not maxima along their row are dropped first, with whole
    rows at a time, then those lower than the pixel above or below them.
    """
    above = det > threshold
    count = np.count_nonzero(above)
    if count == 0:
        return np.flatnonzero(above)
    j_count, h, w = det.shape
    r = kernel // 2
    flat = det.ravel()
    if count * 5 * kernel * kernel <= det.size:
        at = np.flatnonzero(above)
    else:
        _row_maxima(flat, above.ravel(), r, w)
        at = sparse_flatnonzero(above)
        if h > 1 and r > 0:  # and those lower than the pixel above or below: fewer to compare with whole windows
            y = at // w % h
            value = flat.take(at)
            at = at[((y == 0) | (value >= flat.take(at - w, mode="clip")))
                    & ((y == h - 1) | (value >= flat.take(at + w, mode="clip")))]
    j, rest = np.divmod(at, h * w)
    y, x = np.divmod(rest, w)
    # a neighbour clamped into the image is still a pixel of the window: the same test as -inf outside
    rows = np.stack([_clamped(y, dy, h) for dy in range(-r, r + 1)]) * w + j * (h * w)
    cols = np.stack([_clamped(x, dx, w) for dx in range(-r, r + 1)])
    window = flat.take(rows[:, None, :] + cols[None, :, :]).reshape(kernel * kernel, len(at))
    return at[(flat.take(at) >= window).all(axis=0)]


def _row_maxima(flat: np.ndarray, keep: np.ndarray, r: int, w: int) -> None:
    """keep &= flat equals the maximum of its row neighbours within r (flat: maps of rows w long, end to end).

    Shifts of the flat array (contiguous, so fast) compare a pixel near a row's end with the next row too: those
    comparisons are set to pass.
    """
    for s in range(1, min(r, w - 1) + 1):
        for ge, part in ((flat[s:] >= flat[:-s], keep[s:]), (flat[:-s] >= flat[s:], keep[:-s])):
            for c in range(s):  # the comparisons that wrapped: the last s columns of each row, on either side
                ge[w - s + c::w] = True
            part &= ge


def sparse_flatnonzero(mask: np.ndarray) -> np.ndarray:
    """np.flatnonzero of a contiguous bool array that is mostly False, several times faster: 8 bytes at a time."""
    flat = mask.reshape(-1)
    whole = len(flat) // 8 * 8
    words = flat[:whole].view(np.uint64)
    at = np.flatnonzero(words != 0)
    within = np.flatnonzero(words.take(at).view(bool))
    found = at[within >> 3] * 8 + (within & 7)
    if whole < len(flat):
        found = np.concatenate([found, whole + np.flatnonzero(flat[whole:])])
    return found


def _clamped(v: np.ndarray, step: int, size: int) -> np.ndarray:
    """v + step clamped to [0, size - 1] (np.clip costs several times more per call)."""
    if step < 0:
        return np.maximum(v + step, 0)
    return np.minimum(v + step, size - 1) if step else v


def _build(tag: np.ndarray, jj: np.ndarray, ii: np.ndarray, val: np.ndarray, j_count: int, w: int) -> Candidates:
    """Candidates from per-row joint, flat index and value (rows already grouped by joint, in order)."""
    d = tag.shape[-1]
    tags = tag.reshape(-1, d).take(jj * (tag.shape[1] * tag.shape[2]) + ii, axis=0)
    xy = np.stack([ii % w, ii // w], axis=1).astype(np.float32)
    starts = np.concatenate(([0], np.cumsum(np.bincount(jj, minlength=j_count))))
    return Candidates(xy, val.astype(np.float32, copy=False), tags.astype(np.float32, copy=False),
                      ii.astype(np.int64, copy=False), starts.astype(np.int64))


def _candidates_from_topk(nms_det: np.ndarray, tag: np.ndarray, rows: np.ndarray, k: int, threshold: float,
                          w: int) -> Candidates:
    val, ind = _torch_topk_rows(nms_det[rows], k)
    jj = np.repeat(rows, k)
    val, ind = val.ravel(), ind.ravel()
    sel = val > threshold
    return _build(tag, jj[sel], ind[sel], val[sel], nms_det.shape[0], w)


def _merge_tied(nms_det: np.ndarray, tag: np.ndarray, jj: np.ndarray, ii: np.ndarray, val: np.ndarray,
                rank: np.ndarray, tied: np.ndarray, k: int, threshold: float, w: int) -> Candidates:
    """Index-ordered candidates for most joints, torch.topk's order for the joints in `tied` (whose NMS'd maps
    are the rows of nms_det)."""
    tv, ti = _torch_topk_rows(nms_det, k)
    sel = tv > threshold
    is_tied = np.zeros(tag.shape[0], bool)
    is_tied[tied] = True
    keep = (rank < k) & ~is_tied[jj]
    all_j = np.concatenate([jj[keep], np.repeat(tied, k)[sel.ravel()]])
    all_i = np.concatenate([ii[keep], ti[sel]])
    all_v = np.concatenate([val[keep], tv[sel]])
    order = np.argsort(all_j, kind="stable")  # group by joint, keeping each joint's own order
    return _build(tag, all_j[order], all_i[order], all_v[order], tag.shape[0], w)


def nms_keep_torch(det: torch.Tensor, kernel: int) -> torch.Tensor:
    """(..., H, W) bool on det's device: pixels equal to the max of their kernel x kernel window.

    Separable shifted maxima rather than max_pool2d: on CPU, stride-1 max_pool2d is ~50x slower.
    """
    r = kernel // 2
    rows = det.clone()
    for s in range(1, r + 1):
        rows[..., s:] = torch.maximum(rows[..., s:], det[..., :-s])
        rows[..., :-s] = torch.maximum(rows[..., :-s], det[..., s:])
    full = rows.clone()
    for s in range(1, r + 1):
        full[..., s:, :] = torch.maximum(full[..., s:, :], rows[..., :-s, :])
        full[..., :-s, :] = torch.maximum(full[..., :-s, :], rows[..., s:, :])
    return full == det


def topk_torch(det: torch.Tensor, k: int, kernel: int) -> tuple[torch.Tensor, torch.Tensor]:
    """NMS then top-k per joint of det (N, J, H, W): values and flat indices (N, J, k), on det's device.

    Equal values come in increasing index (topk's own order among equals is unspecified).
    """
    n, j, h, w = det.shape
    k = min(k, h * w)
    flat = (det * nms_keep_torch(det, kernel)).reshape(n, j, h * w)
    val, ind = flat.topk(k, dim=2)
    # canonical order among equal values: sort by index, then stably by decreasing value
    ind, perm = ind.sort(dim=2)
    val = val.gather(2, perm)
    val, perm = val.sort(dim=2, descending=True, stable=True)
    return val, ind.gather(2, perm)
