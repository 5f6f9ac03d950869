"""The stacked hourglass network of the paper (section 3.1), layer for layer as the authors' code builds it.

Module names follow the reference implementation (princeton-vl/pose-ae-train) so its checkpoints load by
name: `pre` (stem, stride 4), `features[i]` (hourglass + two 3x3 convs), `outs[i]` (1x1 prediction),
`merge_preds[i]` / `merge_features[i]` (1x1 convs feeding stack i's output back into the features).
"""
from __future__ import annotations

import torch
from torch import nn

from aetrack.config import ModelConfig
from aetrack.model.blocks import ConvBn, stack_predictions


class Conv(ConvBn):
    """The reference's convolution: 'same' padding, always a bias, optional batch norm, ReLU unless told not to."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, bn: bool = False,
                 relu: bool = True) -> None:
        super().__init__(cin, cout, kernel, stride, bn=bn, relu=relu, bias=True)


class Merge(nn.Module):
    """1x1 linear projection used to feed a stack's features and predictions into the next stack."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = Conv(cin, cout, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Hourglass(nn.Module):
    """One recursive hourglass level: a full-resolution branch plus pool -> deeper level -> nearest upsample.

    `increase` channels are added going one level down; deeper levels add `inner_increase` (the reference
    always passes its default of 128 there, whatever the outer increase).
    """

    def __init__(self, depth: int, width: int, bn: bool, increase: int, inner_increase: int) -> None:
        super().__init__()
        inner = width + increase
        self.up1 = Conv(width, width, 3, bn=bn)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.low1 = Conv(width, inner, 3, bn=bn)
        if depth > 1:
            self.low2: nn.Module = Hourglass(depth - 1, inner, bn, inner_increase, inner_increase)
        else:
            self.low2 = Conv(inner, inner, 3, bn=bn)
        self.low3 = Conv(inner, width, 3)  # no batch norm here, as in the reference
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(self.pool1(x)))))


class StackedHourglass(nn.Module):
    """Input (N, 3, H, W) in [0, 1], H and W multiples of 2**(depth + 2); output (N, stacks, C, H/4, W/4)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        bn, width, cout = config.batch_norm, config.width, config.out_channels
        inner = config.increase if config.inner_increase is None else config.inner_increase
        s1, s2 = config.stem
        self.pre = nn.Sequential(
            Conv(3, s1, 7, 2, bn=bn), Conv(s1, s2, bn=bn), nn.MaxPool2d(2, 2),
            Conv(s2, s2, bn=bn), Conv(s2, width, bn=bn),
        )
        self.features = nn.ModuleList(
            nn.Sequential(Hourglass(config.depth, width, bn, config.increase, inner),
                          Conv(width, width, 3), Conv(width, width, 3))
            for _ in range(config.stacks)
        )
        self.outs = nn.ModuleList(Conv(width, cout, 1, relu=False) for _ in range(config.stacks))
        self.merge_features = nn.ModuleList(Merge(width, width) for _ in range(config.stacks - 1))
        self.merge_preds = nn.ModuleList(Merge(cout, width) for _ in range(config.stacks - 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        preds = stack_predictions(self.pre(images), self.features, self.outs, self.merge_preds,
                                  self.merge_features)
        return torch.stack(preds, 1)
