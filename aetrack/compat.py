"""Compatibility shims for third-party packages.

motmetrics 1.4.0 calls ``np.asfarray``, which NumPy 2.0 removed. We restore it as the thin alias it was
(``np.asarray`` with a floating dtype) so motmetrics runs unchanged on NumPy 1 and 2.
"""
import numpy as np


def _asfarray(a, dtype=np.float64):
    """NumPy 1.x ``asfarray``: the input as an array of a floating type (float64 unless a float type is given)."""
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.float64
    return np.asarray(a, dtype=dtype)


if not hasattr(np, "asfarray"):
    np.asfarray = _asfarray
