"""HigherHRNet (Cheng et al. 2020) as mmpose 0.29 builds it, so its released COCO checkpoints load by name.

`backbone` is HRNet: a stride-4 stem, stage 1 of bottleneck blocks, then stages 2-4 with 2, 3 and 4 parallel
branches (branch i at stride 4 * 2**i with width * 2**i channels) whose modules each run basic blocks per branch
and then fuse every branch into every other. `keypoint_head` predicts heatmaps and tags from the stride-4 branch,
then a deconvolution of [features, that prediction] gives stride-2 heatmaps.
"""
from __future__ import annotations

import torch
from torch import nn

from aetrack.config import ModelConfig
from aetrack.model.blocks import BasicBlock, Bottleneck, res_layer


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, bias=False),
                               nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class HRModule(nn.Module):
    """Basic blocks on each branch, then every output branch sums all branches brought to its resolution.

    Higher-resolution inputs come down through 3x3 stride-2 convolutions, lower-resolution ones up through a
    1x1 convolution and nearest upsampling. `outputs` is how many branches come out (1 at the end of HRNet).
    """

    def __init__(self, channels: list[int], blocks: int, outputs: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(res_layer(BasicBlock, c, c, blocks) for c in channels)
        if len(channels) == 1:
            self.fuse_layers = None
            return
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(self._fuse(channels, i, j) for j in range(len(channels))) for i in range(outputs))
        self.relu = nn.ReLU()

    @staticmethod
    def _fuse(channels: list[int], i: int, j: int) -> nn.Module:
        """Branch j's features at branch i's resolution and width."""
        if j == i:
            return nn.Identity()
        if j > i:
            return nn.Sequential(nn.Conv2d(channels[j], channels[i], 1, bias=False), nn.BatchNorm2d(channels[i]),
                                 nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"))
        steps = [_conv_bn(channels[j], channels[j], 3, 2, relu=True) for _ in range(i - j - 1)]
        return nn.Sequential(*steps, _conv_bn(channels[j], channels[i], 3, 2, relu=False))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        out = []
        for fuse in self.fuse_layers:
            y = fuse[0](xs[0])
            for layer, x in zip(list(fuse)[1:], xs[1:]):
                y = y + layer(x)
            out.append(self.relu(y))
        return out


class HRNet(nn.Module):
    """Input (N, 3, H, W), H and W multiples of 32; output [(N, width, H/4, W/4)], the stride-4 branch."""

    def __init__(self, width: int, stage1_channels: int, stage_blocks: tuple[int, ...],
                 stage_modules: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        previous = [stage1_channels * 4]
        self.layer1 = res_layer(Bottleneck, 64, previous[0], stage_blocks[0])
        for stage, (blocks, modules) in enumerate(zip(stage_blocks[1:], stage_modules), start=2):
            channels = [width * 2 ** i for i in range(stage)]
            last = stage == 4  # only the stride-4 branch leaves the network
            setattr(self, f"transition{stage - 1}", self._transition(previous, channels))
            setattr(self, f"stage{stage}", nn.Sequential(*(
                HRModule(channels, blocks, 1 if last and m == modules - 1 else len(channels))
                for m in range(modules))))
            previous = channels

    @staticmethod
    def _transition(previous: list[int], channels: list[int]) -> nn.ModuleList:
        """Existing branches change width if needed (3x3 conv); a new branch is strided down from the last one."""
        layers: list[nn.Module] = []
        for i, c in enumerate(channels):
            if i < len(previous):
                layers.append(nn.Identity() if previous[i] == c else _conv_bn(previous[i], c, 3, 1, relu=True))
            else:
                steps = [_conv_bn(previous[-1], previous[-1], 3, 2, relu=True) for _ in range(i - len(previous))]
                layers.append(nn.Sequential(*steps, _conv_bn(previous[-1], c, 3, 2, relu=True)))
        return nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            xs = [layer(xs[i] if i < len(xs) else xs[-1]) for i, layer in enumerate(transition)]
            xs = getattr(self, f"stage{stage}")(xs)
        return xs


class HigherResolutionHead(nn.Module):
    """Stride-4 heatmaps + tags from the features, then deconvolution of [features, those maps] to stride-2
    heatmaps (mmpose's AEHigherResolutionHead with one deconvolution, concatenated input, 1x1 final layers)."""

    def __init__(self, width: int, out_channels: int, joints: int, blocks: int) -> None:
        super().__init__()
        self.final_layers = nn.ModuleList([nn.Conv2d(width, out_channels, 1), nn.Conv2d(width, joints, 1)])
        deconv = nn.Sequential(nn.ConvTranspose2d(width + out_channels, width, 4, 2, 1, bias=False),
                               nn.BatchNorm2d(width), nn.ReLU())
        self.deconv_layers = nn.ModuleList([nn.Sequential(
            deconv, *(nn.Sequential(BasicBlock(width, width)) for _ in range(blocks)))])

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        low = self.final_layers[0](features)
        high = self.final_layers[1](self.deconv_layers[0](torch.cat([features, low], 1)))
        return [low, high]


class HigherHRNet(nn.Module):
    """Input (N, 3, H, W) normalised with ImageNet mean/std, H and W multiples of 32; output the list
    [(N, C, H/4, W/4) heatmaps + tags as `ModelConfig.out_channels` lays them out, (N, J, H/2, W/2) heatmaps]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = HRNet(config.width, config.stage1_channels, config.stage_blocks, config.stage_modules)
        self.keypoint_head = HigherResolutionHead(config.width, config.out_channels, config.joints,
                                                  config.head_blocks)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.keypoint_head(self.backbone(images)[0])
