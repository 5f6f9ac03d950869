"""Sub-pixel joint positions finer than the reference's quarter step: a parabola through the log heatmap.

A Gaussian peak is a parabola in log space, so fitting one through the peak pixel and its two neighbours
per axis recovers the centre exactly for a clean Gaussian (the quarter step is off by up to 0.25 pixel, which
at stride 4 on a downscaled frame is several image pixels). Falls back to the pixel centre where the
neighbourhood is not a peak.
"""
from __future__ import annotations

import numpy as np
import torch

EPS = 1e-10


def _axis_offset(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Vertex of the parabola through (-1, l), (0, c), (1, r) in log values, clamped to [-0.5, 0.5]."""
    l, c, r = (torch.log(v.clamp_min(EPS)) for v in (left, centre, right))
    curvature = l - 2 * c + r
    offset = 0.5 * (l - r) / torch.where(curvature < 0, curvature, torch.full_like(curvature, -1.0))
    return torch.where(curvature < 0, offset.clamp(-0.5, 0.5), torch.zeros_like(offset))


def quadratic_positions(det: torch.Tensor, joint: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Refined pixel-edge coordinates (x + 0.5 + dx, y + 0.5 + dy) of integer peaks (x, y) of joints in
    det (J, H, W)."""
    _, h, w = det.shape

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return det[joint, yy.clamp(0, h - 1), xx.clamp(0, w - 1)]

    centre = at(y, x)
    dx = _axis_offset(at(y, x - 1), centre, at(y, x + 1))
    dy = _axis_offset(at(y - 1, x), centre, at(y + 1, x))
    return x + 0.5 + dx, y + 0.5 + dy


def refine_people(people: np.ndarray, det: torch.Tensor) -> None:
    """Move every found joint of people (P, J, 3 + D), pixel-edge coordinates, to its quadratic sub-pixel
    position on det (J, H, W), in place."""
    p_idx, j_idx = np.nonzero(people[:, :, 2] > 0)
    if len(p_idx) == 0:
        return
    xy = people[p_idx, j_idx, :2]
    dev = det.device
    x = torch.as_tensor(np.floor(xy[:, 0]).astype(np.int64), device=dev)
    y = torch.as_tensor(np.floor(xy[:, 1]).astype(np.int64), device=dev)
    nx, ny = quadratic_positions(det, torch.as_tensor(j_idx, device=dev), x, y)
    people[p_idx, j_idx, 0] = nx.cpu().numpy()
    people[p_idx, j_idx, 1] = ny.cpu().numpy()
