"""The training loop: Adam with the paper's step schedule, intermediate supervision, mixed precision on CUDA,
atomic checkpoints that `--resume` continues from, and one process per GPU under torchrun.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterator

import torch

from aetrack.config import Config, ModelConfig, config_to_dict
from aetrack.data.dataset import TrainingDataset, collate_clips, make_source
from aetrack.errors import AetrackError
from aetrack.model import build_model
from aetrack.model.checkpoint import Checkpoint, atomic_torch_save, check_state_dict, read_checkpoint, save_checkpoint
from aetrack.model.inputs import normalize_input
from aetrack.train.losses import AELoss, joints_mse_loss


@dataclasses.dataclass
class DistInfo:
    """This process's place in a torchrun job (rank 0 of 1 when run directly)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> DistInfo:
    """Join the process group when launched by torchrun (RANK/WORLD_SIZE set)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return info


def _with_architecture(config: Config, weights: Config) -> Config:
    """The training config with the network (and its inference settings) of the weights it starts from, keeping
    the training input size: fine-tuning a downloaded model on a config written for another network."""
    model = dataclasses.replace(weights.model, input_size=config.model.input_size)
    if config.model.temporal_dim:
        print(f"note: the weights' {model.arch} network has no temporal tags; training without them",
              file=sys.stderr)
    return dataclasses.replace(config, model=model, inference=weights.inference)


def learning_rate(config: Config, iteration: int) -> float:
    t = config.train
    return t.lr if iteration < t.lr_drop_at else t.lr_after_drop


def _batches(loader: torch.utils.data.DataLoader, sampler, start_epoch: int) -> Iterator[dict[str, torch.Tensor]]:
    epoch = start_epoch
    while True:
        if sampler is not None:
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def to_network_input(images: torch.Tensor, channel_order: str, model: ModelConfig | None = None) -> torch.Tensor:
    """Frames (N, S, S, 3) uint8 BGR -> (N, 3, S, S) float in the model's colour order, in [0, 1] or scaled as
    the model's `input_norm` says (ImageNet statistics for mmpose's networks)."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    x = x.flip(1) if channel_order == "RGB" else x
    return x if model is None else normalize_input(x, model)


class Trainer:
    """Trains `config.model` on `config.train.data`, writing checkpoints and a JSONL log to `config.train.out`."""

    def __init__(self, config: Config, resume: bool = False, init_weights: str | None = None,
                 device: str = "auto") -> None:
        self.dist = setup_distributed()
        init = read_checkpoint(init_weights) if init_weights else None
        if init is not None and init.config.model.arch != config.model.arch:
            config = _with_architecture(config, init.config)
        self.config = config
        t = config.train
        if device == "auto":
            device = f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        torch.manual_seed(t.seed + self.dist.rank)
        self.out = Path(t.out)
        self.model = build_model(config).to(self.device)
        self.loss = AELoss(config.model, t.tag_weight, t.temporal_weight)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr)
        self.iteration = 0
        if init is not None:
            self._load_weights(init, init_weights)
        if resume:
            self._resume()
        self.net = self.model
        if self.dist.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.dist.local_rank] if self.device.type == "cuda" else None)
        self.amp = t.amp and self.device.type == "cuda"

    @property
    def topdown(self) -> bool:
        """A single-person network (refinement): trained on person crops with the joints' MSE only."""
        return self.config.model.arch == "topdown-hourglass"

    def _load_weights(self, ckpt: Checkpoint, path: str) -> None:
        check_state_dict(self.model, ckpt.state_dict, path)
        self.model.load_state_dict(ckpt.state_dict)

    def _resume(self) -> None:
        path = self.out / "last.pt"
        if not path.is_file():
            raise AetrackError(f"--resume: no checkpoint {path} to resume from")
        data = torch.load(path, map_location="cpu", weights_only=True)
        state = data.get("train_state") or {}
        if "optimizer" not in state:
            raise AetrackError(f"--resume: {path} holds no training state (optimizer, iteration)")
        self.model.load_state_dict(data["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])

    def _loader(self) -> tuple[torch.utils.data.DataLoader, object]:
        t = self.config.train
        source = make_source(t, seed=t.seed)
        model = self.config.model
        if self.topdown:
            from aetrack.data.person_crops import PersonCrops

            dataset = PersonCrops(source, model.input_size, sigma=t.sigma, seed=t.seed)
            if t.batch_size % dataset.people:
                raise AetrackError(f"train.batch_size ({t.batch_size}) of a single-person model must be a multiple "
                                   f"of {dataset.people}, the people cropped from each clip")
            clips = t.batch_size // dataset.people
        else:
            dataset = TrainingDataset(source, model.input_size, t, augment=True, seed=t.seed, stride=model.stride,
                                      extra_strides=model.output_strides)
            clips = t.batch_size // t.clip_length
        sampler = None
        if self.dist.world > 1:
            sampler = torch.utils.data.distributed.DistributedSampler(dataset, self.dist.world, self.dist.rank,
                                                                      seed=t.seed)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=clips, shuffle=sampler is None, sampler=sampler, num_workers=t.workers,
            collate_fn=collate_clips, drop_last=True, pin_memory=self.device.type == "cuda",
            persistent_workers=t.workers > 0, generator=torch.Generator().manual_seed(t.seed))
        if len(loader) == 0:
            raise AetrackError(f"training data has {len(dataset)} clips, fewer than one batch of {clips}")
        return loader, sampler

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step on a batch; returns the loss parts as floats."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.config, self.iteration)
        dev = self.device
        x = to_network_input(batch["images"].to(dev, non_blocking=True), self.config.inference.channel_order,
                             self.config.model)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp):
            # every stack of a single-person hourglass is supervised (DDP sees only its forward: the last)
            out = self.model.forward_stacks(x) if self.topdown and self.net is self.model else self.net(x)
        out = [o.float() for o in out] if isinstance(out, (list, tuple)) else out.float()
        if self.topdown:
            total = joints_mse_loss(out, batch["heatmaps"].to(dev), batch["joint_weights"].to(dev))
            parts = {"heatmaps": total.detach()}
        else:
            extra = {s: (batch[f"heatmaps_s{s}"].to(dev), batch[f"masks_s{s}"].to(dev))
                     for s in self.config.model.output_strides if f"heatmaps_s{s}" in batch}
            total, parts = self.loss(out, batch["heatmaps"].to(dev), batch["masks"].to(dev),
                                     batch["joints"].to(dev), clip_length=self.config.train.clip_length,
                                     joint_weights=batch["joint_weights"].to(dev), extra_targets=extra)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.iteration += 1
        return {"loss": float(total.detach()), **{k: float(v) for k, v in parts.items()}}

    def save(self, name: str = "last.pt") -> Path:
        """Atomic checkpoint in our format plus the optimizer state for --resume."""
        path = self.out / name
        save_checkpoint(path, self.model, self.config, {"iteration": self.iteration,
                                                        "trained_on": self.config.train.data.kind})
        data = torch.load(path, map_location="cpu", weights_only=True)
        data["train_state"] = {"optimizer": self.optimizer.state_dict(), "iteration": self.iteration}
        atomic_torch_save(data, path)
        return path

    def validation_set(self) -> Path | None:
        """The COCO file to validate on: data.val, or a held-out synthetic set made once in train.out."""
        data = self.config.train.data
        if data.val:
            return Path(data.val)
        if data.kind != "synth":
            return None
        folder = self.out / "val"
        if not (folder / "coco.json").is_file():
            from aetrack.data.synth import write_dataset
            write_dataset(folder, seed=self.config.train.seed + 100_003, videos=2, frames=30,
                          people=max(data.synth_people), size=tuple(data.synth_size))
        return folder / "coco.json"

    def validate(self) -> dict[str, float]:
        """COCO keypoint AP of the current model on the validation set (people decoded as in inference)."""
        from aetrack.eval.coco import evaluate_coco, poses_to_coco_results
        from aetrack.inference.images import coco_frames
        from aetrack.inference.predictor import Predictor

        path = None if self.topdown else self.validation_set()  # a single-person model needs boxes: not here
        if path is None:
            return {}
        self.model.eval()
        try:
            # the training model as it is: converting it to channels-last would change the parameters' layout
            inference = dataclasses.replace(self.config.inference, channels_last=False, compile=False)
            predictor = Predictor(self.model, dataclasses.replace(self.config, inference=inference), self.device)
            results = []
            for image_id, image in coco_frames(path):
                results.extend(poses_to_coco_results(predictor([image])[0], image_id))
        finally:
            self.model.train()
        if not results:
            return {"AP": 0.0, "AR": 0.0}
        return evaluate_coco(path, results)

    def fit(self, iterations: int | None = None, progress: bool = True) -> Path:
        """Train until `iterations` (default: the config's); Ctrl-C saves a checkpoint before stopping."""
        t = self.config.train
        end = t.iterations if iterations is None else iterations
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(config_to_dict(self.config), indent=1))
        loader, sampler = self._loader()
        self.model.train()
        log = (self.out / "log.jsonl").open("a") if self.dist.main else None
        start, running, best = time.time(), {}, -1.0
        from tqdm import tqdm
        bar = tqdm(total=end, initial=self.iteration, unit="it", dynamic_ncols=True,
                   disable=not (progress and self.dist.main), file=sys.stderr)
        stop = {"flag": False}
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
        try:
            for batch in _batches(loader, sampler, self.iteration // max(1, len(loader))):
                if self.iteration >= end or stop["flag"]:
                    break
                parts = self.step(batch)
                running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in parts.items()}
                bar.update(1)
                if log and (self.iteration % t.log_every == 0 or self.iteration == end):
                    log.write(json.dumps({"iteration": self.iteration, "lr": learning_rate(self.config, self.iteration),
                                          **parts, "time": time.time() - start}) + "\n")
                    log.flush()
                    bar.set_postfix({k: f"{v:.3g}" for k, v in running.items()}, refresh=False)
                if self.dist.main and self.iteration % t.checkpoint_every == 0:
                    self.save()
                if self.dist.main and t.val_every and self.iteration % t.val_every == 0:
                    stats = self.validate()
                    if stats:
                        log.write(json.dumps({"iteration": self.iteration, "val": stats}) + "\n")
                        log.flush()
                        bar.write(f"validation at {self.iteration}: AP {stats['AP']:.3f} AR {stats['AR']:.3f}")
                        if stats["AP"] > best:
                            best = stats["AP"]
                            self.save("best.pt")
        except KeyboardInterrupt:
            if self.dist.main:
                print(f"interrupted at iteration {self.iteration}; saving", file=sys.stderr)
        finally:
            bar.close()
            signal.signal(signal.SIGTERM, previous)
            if log:
                log.close()
        return self.save() if self.dist.main else self.out / "last.pt"

