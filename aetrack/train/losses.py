"""Training losses of the paper (section 3.2): heatmap MSE plus the associative-embedding push/pull terms.

Pure functions on tensors, vectorised over images, people and joints; each returns one value per image (N,)
so callers choose how to average. `AELoss` puts them together on the network's stacked output.
"""
from __future__ import annotations

import torch
from torch import nn

from aetrack.config import ModelConfig


def _gather_tags(tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tags (N, K, D) at joints (N, M, L, 2) [flat index, visible] -> values (N, M, L, D), visible (N, M, L)."""
    n, m, l, _ = joints.shape
    visible = joints[..., 1] > 0
    # Hidden rows may hold any index (padding); point them at 0 so only real joints are read.
    index = torch.where(visible, joints[..., 0].long(), 0)
    index = index.reshape(n, m * l, 1).expand(-1, -1, tags.shape[-1])
    return torch.gather(tags, 1, index).reshape(n, m, l, tags.shape[-1]), visible


def _pull_push(values: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Push and pull (N,) each from per-person tag values (N, M, L, D) and visibility (N, M, L)."""
    weight = visible.to(values.dtype)
    count = weight.sum(-1)                                                   # (N, M) visible joints
    present = count > 0                                                      # people that take part
    mean = (values * weight[..., None]).sum(2) / count.clamp(min=1)[..., None]  # (N, M, D) reference tags
    dims = values.shape[-1]
    spread = ((values - mean[:, :, None]) ** 2 * weight[..., None]).sum((2, 3)) / (count * dims).clamp(min=1)
    people = present.sum(1)                                                  # (N,)
    pull = (spread * present).sum(1) / people.clamp(min=1)

    distance = ((mean[:, :, None] - mean[:, None]) ** 2).sum(-1)             # (N, M, M)
    m = mean.shape[1]
    upper = torch.ones(m, m, dtype=torch.bool, device=values.device).triu(1)
    pairs = present[:, :, None] & present[:, None] & upper                   # unordered pairs n < n'
    # Masking by multiplication (not indexing) keeps the graph the same shape for any number of people.
    push = 0.5 * (torch.exp(-distance) * pairs).sum((1, 2)) / pairs.sum((1, 2)).clamp(min=1)
    return push, pull


def grouping_loss(tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Associative-embedding (push, pull), each (N,), from tags (N, K, D) and joints (N, M, 17, 2) int64.

    K = joints * h * w positions flattened as (joint, y, x); a joints row is [flat index into K, visible flag].
    Per image: m_n = mean tag of person n's visible joints; pull = mean over people of the mean squared
    deviation from m_n; push = 0.5 * mean over pairs n < n' of exp(-||m_n - m_n'||^2); 0 where undefined.
    """
    values, visible = _gather_tags(tags, joints)
    return _pull_push(values, visible)


def temporal_grouping_loss(tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Push and pull (N,) across the T frames of each clip: tags (N, T, K, E), joints (N, T, M, 17, 2).

    Person slot m is the same track in every frame; its reference embedding is the mean temporal tag over all
    its visible joints in all frames, and the push separates different tracks' embeddings.
    """
    n, t, k, e = tags.shape
    m, j = joints.shape[2], joints.shape[3]
    values, visible = _gather_tags(tags.reshape(n * t, k, e), joints.reshape(n * t, m, j, 2))
    # One track = one "person" whose joints are all of its joints in all frames.
    values = values.reshape(n, t, m, j, e).permute(0, 2, 1, 3, 4).reshape(n, m, t * j, e)
    visible = visible.reshape(n, t, m, j).permute(0, 2, 1, 3).reshape(n, m, t * j)
    return _pull_push(values, visible)


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                 joint_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Masked MSE (N,) of heatmaps pred, target (N, J, h, w) with mask (N, h, w), 1 = use the pixel, and
    optional joint_weights (N, J), 0 for joints a dataset never labels (PoseTrack's eyes).

    Masked pixels still count in the mean over joints and pixels, as the reference divides by all of them.
    """
    weight = mask[:, None]
    if joint_weights is not None:
        weight = weight * joint_weights[:, :, None, None]
    return ((pred - target) ** 2 * weight).mean((1, 2, 3))


def _flat_tags(maps: torch.Tensor, joints: int) -> torch.Tensor:
    """Tag maps (N, joints * D, h, w), dimension d of joint j at channel d * joints + j -> (N, joints*h*w, D)."""
    n, c, h, w = maps.shape
    return maps.reshape(n, c // joints, joints * h * w).transpose(1, 2)


class AELoss(nn.Module):
    """Total training loss on the stacked output (N, stacks, C, h, w), every stack supervised equally.

    total = mean over images and stacks of detection + tag_weight * (push + pull)
            (+ temporal_weight * (temporal push + pull) when the model has temporal tags).
    """

    def __init__(self, config: ModelConfig, tag_weight: float = 1e-3, temporal_weight: float = 1e-3) -> None:
        super().__init__()
        self.config = config
        self.tag_weight = tag_weight
        self.temporal_weight = temporal_weight

    def forward(self, output: torch.Tensor, heatmaps: torch.Tensor, masks: torch.Tensor, joints: torch.Tensor,
                clip_length: int = 1, joint_weights: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss and its parts (detached, for logging) from output (N, S, C, h, w), heatmaps (N, J, h, w),
        masks (N, h, w), joints (N, M, J, 2) and optional joint_weights (N, J).

        For temporal tags the batch holds N / clip_length clips of clip_length consecutive frames, person slot
        m being the same track in every frame of a clip.
        """
        cfg = self.config
        if output.shape[2] != cfg.out_channels:
            raise ValueError(f"output has {output.shape[2]} channels, the model config says {cfg.out_channels}")
        if cfg.temporal_dim > 0 and (clip_length < 1 or output.shape[0] % clip_length):
            raise ValueError(f"a batch of {output.shape[0]} frames is not whole clips of {clip_length} frames")
        nj = cfg.joints
        tag_end = nj * (1 + cfg.tag_dim)
        names = ["detection", "push", "pull"] + (["temporal_push", "temporal_pull"] if cfg.temporal_dim else [])
        per_stack: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        # Intermediate supervision: every stack is compared with the same targets (stacks are few; no
        # need to vectorise over them).
        for stack in output.unbind(1):                                       # (N, C, h, w) each
            per_stack["detection"].append(heatmap_loss(stack[:, :nj], heatmaps, masks, joint_weights))
            push, pull = grouping_loss(_flat_tags(stack[:, nj:tag_end], nj), joints)
            per_stack["push"].append(push)
            per_stack["pull"].append(pull)
            if cfg.temporal_dim:
                maps = stack[:, tag_end:tag_end + nj * cfg.temporal_dim]
                push, pull = temporal_grouping_loss(_clip_tags(maps, nj, clip_length), _clips(joints, clip_length))
                per_stack["temporal_push"].append(push)
                per_stack["temporal_pull"].append(pull)
        parts = {name: torch.stack(values, 1).mean() for name, values in per_stack.items()}
        total = parts["detection"] + self.tag_weight * (parts["push"] + parts["pull"])
        if cfg.temporal_dim:
            total = total + self.temporal_weight * (parts["temporal_push"] + parts["temporal_pull"])
        return total, {name: value.detach() for name, value in parts.items()}


def _clips(x: torch.Tensor, clip_length: int) -> torch.Tensor:
    """Frames (N, ...) -> clips (N / clip_length, clip_length, ...), consecutive frames forming a clip."""
    return x.reshape(x.shape[0] // clip_length, clip_length, *x.shape[1:])


def _clip_tags(maps: torch.Tensor, joints: int, clip_length: int) -> torch.Tensor:
    """Temporal tag maps (N, joints * E, h, w) -> (N / clip_length, clip_length, joints*h*w, E)."""
    return _clips(_flat_tags(maps, joints), clip_length)
