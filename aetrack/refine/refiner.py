"""`Refiner`: every person of a frame cropped, run through a single-person network as one batch, decoded and
merged with the multi-person result (the paper's refinement step)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aetrack.config import check_precision
from aetrack.errors import AetrackError
from aetrack.inference.people import oks_nms
from aetrack.inference.runtime import Network, resolve_device, to_device
from aetrack.poses import Poses
from aetrack.refine.boxes import PADDING, person_boxes, regions, stray_joints
from aetrack.refine.crop import crops
from aetrack.refine.decode import POST_PROCESS, decode_crops
from aetrack.refine.merge import MERGE_RULES, merge_poses


@dataclass(frozen=True)
class RefineConfig:
    """How people are refined.

    flip: flip test of the single-person network (mmpose's, with its one-pixel shift).
    post_process: 'default' (quarter-pixel step) or 'unbiased' (DARK, with a `kernel`-wide Gaussian: 11 for
        maps trained with sigma 2, as mmpose's).
    padding: context around a person's box, as the network was trained (mmpose: 1.25).
    box_margin: a box around a person's joints grows this much first: joints stop short of the body's outline
        (the head's top, hands, feet), where the boxes the network was trained on end.
    stray_spread: joints further from the person's median joint than this many times the median such distance
        are left out of the box (`stray_joints`; 0: none are); the single-person network then places them anew.
    min_joints: people with fewer found joints (and no track box to go by) are left as they are.
    merge: how each joint's two predictions combine (`merge_keypoints`): 'average' (the paper's score-weighted
        mean) or 'single' (the single-person network's joint wherever it found one).
    duplicate_oks: of two refined people whose poses match with OKS above this, the lower-scoring one is dropped
        (mmpose's greedy `oks_nms`; 1 keeps everyone): two decoded people refined onto the same body are one person.
    rescore: a refined person's score becomes its mean merged joint score; off, the decoder's score stays (the
        single-person network sees someone in almost any crop, so its scores rank false people poorly).
    batch: people per network call.
    precision, channels_last, compile: how the network runs, as `InferenceConfig`'s settings of those names,
        except that 'auto' precision is bf16 on a CPU with bf16 kernels too: the single-person network's joints
        move by about 0.002 px (median) in bf16 and it runs about twice as fast.
    """

    flip: bool = False
    post_process: str = "default"
    kernel: int = 11
    padding: float = PADDING
    box_margin: float = 1.2
    stray_spread: float = 3.0
    min_joints: int = 3
    merge: str = "average"
    duplicate_oks: float = 0.7
    rescore: bool = False
    batch: int = 32
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        if self.post_process not in POST_PROCESS:
            raise AetrackError(f"refine post_process must be one of {', '.join(POST_PROCESS)}, "
                               f"got {self.post_process!r}")
        if self.merge not in MERGE_RULES:
            raise AetrackError(f"refine merge must be one of {', '.join(MERGE_RULES)}, got {self.merge!r}")
        if not 0.0 <= self.duplicate_oks <= 1.0:
            raise AetrackError(f"refine duplicate_oks must be between 0 and 1, got {self.duplicate_oks}")
        if self.stray_spread < 0:
            raise AetrackError(f"refine stray_spread must not be negative, got {self.stray_spread}")
        if self.padding <= 0 or self.box_margin <= 0 or self.batch < 1 or self.min_joints < 1:
            raise AetrackError("refine settings: padding, box_margin, batch and min_joints must be positive")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise AetrackError(f"refine kernel must be a positive odd number, got {self.kernel}")
        check_precision(self.precision, "refine precision")


class Refiner:
    """A single-person network (N, 3, H, W) -> heatmaps (N, 17, H/4, W/4) (or a list/stack whose last element
    they are), run on people's crops. `input_size` (w, h) defaults to the network's `config.input_size`."""

    def __init__(self, model: torch.nn.Module, config: RefineConfig | None = None, device: str | torch.device = "cpu",
                 input_size: tuple[int, int] | None = None) -> None:
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.config = config or RefineConfig()
        self.model = Network(model, self.device, self.config.precision, self.config.channels_last,
                             self.config.compile, cpu_bf16=True)
        model_config = getattr(model, "config", None)
        if input_size is None:
            side = int(getattr(model_config, "input_size", 256))
            input_size = (side, side)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.input_norm = getattr(model_config, "input_norm", "imagenet")

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", config: RefineConfig | None = None) -> "Refiner":
        """A refiner from a single-person (top-down) checkpoint: mmpose's top-down hourglass or ours."""
        from aetrack.model import load_checkpoint_model

        model, ckpt = load_checkpoint_model(path)
        if ckpt.config.model.arch != "topdown-hourglass":
            raise AetrackError(f"{path}: a {ckpt.config.model.arch} network, not a single-person (top-down) one; "
                               "refinement needs a topdown-hourglass checkpoint")
        return cls(model, config, device)

    @torch.inference_mode()
    def heatmaps(self, inputs: np.ndarray) -> list[np.ndarray]:
        """The network's maps (N, 17, h, w) of crops (N, 3, H, W); with flip test also those of the mirrored crops."""
        out: list[list[np.ndarray]] = [[], []] if self.config.flip else [[]]
        for start in range(0, len(inputs), self.config.batch):
            x = to_device(torch.from_numpy(inputs[start:start + self.config.batch]), self.device)
            for i, batch in enumerate([x, x.flip(-1)][:len(out)]):
                out[i].append(_heatmaps(self.model(batch)).float().cpu().numpy())
        return [np.concatenate(o) for o in out]

    def keypoints(self, image_bgr: np.ndarray, boxes_xywh: np.ndarray) -> np.ndarray:
        """The single-person network's keypoints (P, 17, 3) x, y, score in image pixels for boxes (P, 4) of an
        (H, W, 3) uint8 BGR image (top-down pose estimation)."""
        boxes = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros((0, 17, 3), np.float32)
        centers, sizes = regions(boxes, self.input_size, self.config.padding)
        inputs = crops(image_bgr, centers, sizes, self.input_size, bgr=True, norm=self.input_norm)
        maps = self.heatmaps(inputs)
        return decode_crops(maps, centers, sizes, post_process=self.config.post_process,
                            kernel=self.config.kernel).astype(np.float32)

    def __call__(self, image_bgr: np.ndarray, poses: Poses, track_boxes: np.ndarray | None = None) -> Poses:
        """`poses` (image pixels of `image_bgr`) with each person's joints merged with the single-person network's.

        track_boxes: (T, 4) x1, y1, x2, y2 where tracks are expected in this frame (video); a person overlapping
        one is cropped to both boxes (see `person_boxes`).
        """
        if not len(poses):
            return poses
        boxed = poses.keypoints
        if self.config.stray_spread > 0:
            stray = stray_joints(boxed, self.config.stray_spread, self.config.min_joints)
            if stray.any():
                boxed = boxed.copy()
                boxed[stray, 2] = 0
        boxes, joined = person_boxes(boxed, self.config.box_margin, track_boxes)
        found = (poses.keypoints[..., 2] > 0).sum(1)
        chosen = (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & ((found >= self.config.min_joints) | joined)
        single = np.zeros_like(poses.keypoints, dtype=np.float32)
        if chosen.any():
            single[chosen] = self.keypoints(image_bgr, boxes[chosen])
        merged = merge_poses(poses, single, chosen, rescore=self.config.rescore, rule=self.config.merge)
        if self.config.duplicate_oks >= 1 or len(merged) < 2:
            return merged
        keep = np.sort(oks_nms(merged, self.config.duplicate_oks))
        return merged if len(keep) == len(merged) else merged[keep]


def _heatmaps(output: torch.Tensor | list | tuple) -> torch.Tensor:
    """The heatmaps (N, J, h, w) in a network's answer: the last of a list, the last stack of (N, S, J, h, w)."""
    if isinstance(output, (list, tuple)):
        output = output[-1]
    if output.dim() == 5:
        output = output[:, -1]
    if output.dim() != 4:
        raise AetrackError(f"the single-person network gave maps of shape {tuple(output.shape)}, "
                           "expected (N, joints, h, w)")
    return output
