"""Training losses of the paper (section 3.2): heatmap MSE plus the associative-embedding push/pull terms.

Pure functions on tensors, vectorised over images, people and joints; each returns one value per image (N,)
so callers choose how to average. `AELoss` puts them together on the network's stacked output.
"""
from __future__ import annotations

import torch
from torch import nn

from aetrack.config import ModelConfig
from aetrack.model.outputs import split_outputs


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
    """Total training loss on a network's raw output, for any arch (see `split_outputs`): every output is
    supervised (intermediate supervision on each hourglass stack; each resolution of HigherHRNet).

    detection = sum over output strides of the mean over that stride's outputs of the masked heatmap MSE (one
    stride for the hourglasses: the mean over stacks; HigherHRNet: stride 4 + stride 2, as mmpose sums them);
    total = detection + tag_weight * (push + pull) (+ temporal_weight * (temporal push + pull)), the tag terms
    averaged over the outputs that carry tags.
    """

    def __init__(self, config: ModelConfig, tag_weight: float = 1e-3, temporal_weight: float = 1e-3) -> None:
        super().__init__()
        self.config = config
        self.tag_weight = tag_weight
        self.temporal_weight = temporal_weight

    def forward(self, output: torch.Tensor | list[torch.Tensor], heatmaps: torch.Tensor, masks: torch.Tensor,
                joints: torch.Tensor, clip_length: int = 1, joint_weights: torch.Tensor | None = None,
                extra_targets: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss and its parts (detached, for logging) from the raw output, heatmaps (N, J, h, w) and masks
        (N, h, w) at the model's stride, joints (N, M, J, 2) on that grid, optional joint_weights (N, J) and
        {stride: (heatmaps, masks)} for outputs at other strides.

        For temporal tags the batch holds N / clip_length clips of clip_length consecutive frames, person slot
        m being the same track in every frame of a clip.
        """
        cfg = self.config
        outputs = split_outputs(output, cfg)
        if cfg.temporal_dim > 0 and (clip_length < 1 or outputs[0].heatmaps.shape[0] % clip_length):
            raise ValueError(f"a batch of {outputs[0].heatmaps.shape[0]} frames is not whole clips of "
                             f"{clip_length} frames")
        targets = {cfg.stride: (heatmaps, masks), **(extra_targets or {})}
        nj = cfg.joints
        detection: dict[int, list[torch.Tensor]] = {}
        tagged: dict[str, list[torch.Tensor]] = {"push": [], "pull": []}
        if cfg.temporal_dim:
            tagged.update(temporal_push=[], temporal_pull=[])
        for out in outputs:
            if out.stride not in targets:
                raise ValueError(f"an output at stride {out.stride} but heatmap targets only at strides "
                                 f"{sorted(targets)}")
            target, mask = targets[out.stride]
            detection.setdefault(out.stride, []).append(heatmap_loss(out.heatmaps, target, mask, joint_weights))
            if out.tags is not None:
                push, pull = grouping_loss(_flat_tags(out.tags, nj), joints)
                tagged["push"].append(push)
                tagged["pull"].append(pull)
            if out.temporal is not None:
                push, pull = temporal_grouping_loss(_clip_tags(out.temporal, nj, clip_length),
                                                    _clips(joints, clip_length))
                tagged["temporal_push"].append(push)
                tagged["temporal_pull"].append(pull)
        parts = {"detection": sum(torch.stack(v, 1).mean() for v in detection.values())}
        parts.update({name: torch.stack(v, 1).mean() for name, v in tagged.items()})
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


def joints_mse_loss(outputs: torch.Tensor | list[torch.Tensor], heatmaps: torch.Tensor,
                    joint_weights: torch.Tensor) -> torch.Tensor:
    """The single-person (top-down) network's loss, mmpose's JointsMSELoss with target weights: per stack,
    0.5 * the mean over crops, joints and pixels of (weight * (output - target))^2, summed over stacks.

    outputs: (N, J, h, w) or a list of them (one per stack); heatmaps: (N, J, h, w); joint_weights: (N, J).
    """
    stacks = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    w = joint_weights[:, :, None, None]
    return sum(0.5 * ((o - heatmaps) * w).pow(2).mean() for o in stacks)
