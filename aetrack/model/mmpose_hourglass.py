"""mmpose 0.29's two stacked-hourglass networks, with its state-dict names so released checkpoints load.

`HourglassAE` is the bottom-up associative-embedding hourglass (mmpose's HourglassAENet): the paper's network
with batch norm everywhere and per-level channel counts. `TopdownHourglass` is the single-person hourglass of
Newell et al. 2016 (mmpose's HourglassNet + TopdownHeatmapMultiStageHead): residual blocks at every level,
strided convolutions instead of pooling, heatmaps of one person's crop. Both take ImageNet mean/std normalised
RGB and give stride-4 maps.
"""
from __future__ import annotations

import torch
from torch import nn

from aetrack.config import ModelConfig
from aetrack.model.blocks import BasicBlock, ConvBn, res_layer, stack_predictions


class AEHourglassLevel(nn.Module):
    """One level: a same-resolution 3x3 conv plus max-pool -> deeper level -> nearest upsample, summed."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        outer, inner = channels[0], channels[1]
        self.up1 = ConvBn(outer, outer)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.low1 = ConvBn(outer, inner)
        self.low2: nn.Module = AEHourglassLevel(channels[1:]) if len(channels) > 2 else ConvBn(inner, inner)
        self.low3 = ConvBn(inner, outer)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(self.pool1(x)))))


class HourglassAEBackbone(nn.Module):
    """Stride-4 stem, `stacks` hourglasses each followed by two 3x3 convs and a 1x1 prediction that is fed,
    with the features, into the next stack. Output: one (N, C, H/4, W/4) prediction per stack."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        s1, s2 = config.stem
        width, cout = config.width, config.out_channels
        self.stem = nn.Sequential(ConvBn(3, s1, 7, 2), ConvBn(s1, s2), nn.MaxPool2d(2, 2), ConvBn(s2, s2),
                                  ConvBn(s2, width))
        self.hourglass_modules = nn.ModuleList(
            nn.Sequential(AEHourglassLevel(config.stage_channels), ConvBn(width, width), ConvBn(width, width))
            for _ in range(config.stacks))
        self.out_convs = nn.ModuleList(ConvBn(width, cout, 1, bn=False, relu=False) for _ in range(config.stacks))
        self.remap_out_convs = nn.ModuleList(ConvBn(cout, width, 1, relu=False) for _ in range(config.stacks - 1))
        self.remap_feature_convs = nn.ModuleList(
            ConvBn(width, width, 1, relu=False) for _ in range(config.stacks - 1))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return stack_predictions(self.stem(images), self.hourglass_modules, self.out_convs, self.remap_out_convs,
                                 self.remap_feature_convs)


class HourglassAE(nn.Module):
    """Input (N, 3, H, W) normalised with ImageNet mean/std, H and W multiples of 2**(depth + 2); output
    (N, stacks, C, H/4, W/4) like `StackedHourglass` (channels as `ModelConfig.out_channels` lays them out).

    mmpose's head for this network is the identity, so all weights sit under `backbone`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = HourglassAEBackbone(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.backbone(images), 1)


class TopdownHourglassLevel(nn.Module):
    """One level: residual blocks at this resolution plus stride-2 blocks -> deeper level -> blocks back to
    this width -> nearest upsample, summed."""

    def __init__(self, channels: tuple[int, ...], blocks: tuple[int, ...]) -> None:
        super().__init__()
        outer, inner = channels[0], channels[1]
        self.up1 = res_layer(BasicBlock, outer, outer, blocks[0])
        self.low1 = res_layer(BasicBlock, outer, inner, blocks[0], stride=2)
        self.low2: nn.Module = (TopdownHourglassLevel(channels[1:], blocks[1:]) if len(channels) > 2
                                else res_layer(BasicBlock, inner, inner, blocks[1]))
        self.low3 = res_layer(BasicBlock, inner, outer, blocks[0], change_first=False)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up1(x) + self.up2(self.low3(self.low2(self.low1(x))))


class TopdownHourglassBackbone(nn.Module):
    """Stride-4 stem (7x7 conv, stride-2 residual block), `stacks` hourglasses each followed by a 3x3 conv to
    `width` feature channels; between stacks the input and the remapped features are summed and refined by a
    residual block. Output: one (N, width, H/4, W/4) feature map per stack."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        outer, width, stacks = config.stage_channels[0], config.width, config.stacks
        self.stem = nn.Sequential(ConvBn(3, config.stem[0], 7, 2),
                                  res_layer(BasicBlock, config.stem[0], config.stem[1], 1, stride=2))
        self.hourglass_modules = nn.ModuleList(
            TopdownHourglassLevel(config.stage_channels, config.stage_blocks) for _ in range(stacks))
        # mmpose builds this with stacks - 1 blocks but at least one: a one-stack network carries an unused block
        self.inters = res_layer(BasicBlock, outer, outer, stacks - 1)
        self.conv1x1s = nn.ModuleList(ConvBn(outer, outer, 1, relu=False) for _ in range(stacks - 1))
        self.out_convs = nn.ModuleList(ConvBn(outer, width, 3) for _ in range(stacks))
        self.remap_convs = nn.ModuleList(ConvBn(width, outer, 1, relu=False) for _ in range(stacks - 1))
        self.relu = nn.ReLU()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(images)
        features = []
        for i, (hourglass, out) in enumerate(zip(self.hourglass_modules, self.out_convs)):
            features.append(out(hourglass(x)))
            if i < len(self.conv1x1s):
                x = self.inters[i](self.relu(self.conv1x1s[i](x) + self.remap_convs[i](features[-1])))
        return features


class TopdownHeatmapHead(nn.Module):
    """A 1x1 convolution per stack from features to heatmaps."""

    def __init__(self, width: int, joints: int, stacks: int) -> None:
        super().__init__()
        self.multi_final_layers = nn.ModuleList(nn.Conv2d(width, joints, 1) for _ in range(stacks))

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return [layer(f) for layer, f in zip(self.multi_final_layers, features)]


class TopdownHourglass(nn.Module):
    """Input (N, 3, H, W) person crops normalised with ImageNet mean/std, H and W multiples of
    2**(depth + 2); output the last stack's heatmaps (N, J, H/4, W/4). `forward_stacks` gives every stack's."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = TopdownHourglassBackbone(config)
        self.keypoint_head = TopdownHeatmapHead(config.width, config.joints, config.stacks)

    def forward_stacks(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Every stack's heatmaps (N, J, H/4, W/4), first to last (for intermediate supervision)."""
        return self.keypoint_head(self.backbone(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_stacks(images)[-1]
