"""Convolution and residual blocks of mmpose's networks, with the attribute names of its state dicts.

`ConvBn` is mmcv's ConvModule (`conv`, `bn`), `BasicBlock` and `Bottleneck` mmpose's ResNet blocks (`conv1`,
`bn1`, ..., `downsample.0/1`). Convolutions followed by batch norm have no bias, as in mmpose.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvBn(nn.Module):
    """Convolution with 'same' padding, then batch norm and ReLU; with `bn=False` a biased convolution alone.
    `bias` (default: only without batch norm, as mmpose) overrides that: the authors' hourglass keeps it."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, bn: bool = True,
                 relu: bool = True, bias: bool | None = None) -> None:
        super().__init__()
        bias = not bn if bias is None else bias
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=bias)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


def stack_predictions(x: torch.Tensor, blocks: nn.ModuleList, outs: nn.ModuleList, remap_preds: nn.ModuleList,
                      remap_features: nn.ModuleList) -> list[torch.Tensor]:
    """The stacked hourglass's loop (intermediate supervision): each stack's block gives features and `outs` a
    prediction; both, remapped by 1x1 convolutions, are added to the next stack's input. One prediction per stack."""
    preds = []
    for i, (block, out) in enumerate(zip(blocks, outs)):
        feature = block(x)
        preds.append(out(feature))
        if i < len(remap_preds):
            x = x + remap_preds[i](preds[-1]) + remap_features[i](feature)
    return preds


def projection(cin: int, cout: int, stride: int = 1) -> nn.Sequential | None:
    """The 1x1 convolution + batch norm that matches a residual's shortcut to its output, when one is needed."""
    if cin == cout and stride == 1:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet's basic block); `stride` applies to the first."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convolutions with a shortcut; the middle has `cout / 4` channels."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        mid = cout // 4
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def res_layer(block: type[nn.Module], cin: int, cout: int, blocks: int, stride: int = 1,
              change_first: bool = True) -> nn.Sequential:
    """`blocks` residual blocks from `cin` to `cout` channels (mmpose's ResLayer).

    The channel change and stride happen in the first block, or with `change_first=False` in the last (as
    mmpose's hourglass does on the way up). Like mmpose, at least one block is built even for `blocks=0`.
    """
    blocks = max(blocks, 1)
    if change_first:
        layers = [block(cin, cout, stride)] + [block(cout, cout) for _ in range(blocks - 1)]
    else:
        layers = [block(cin, cin) for _ in range(blocks - 1)] + [block(cin, cout, stride)]
    return nn.Sequential(*layers)
