"""Augmentation, training targets and the training loop."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aetrack.config import AugmentConfig, Config, DataConfig, ModelConfig, TrainConfig
from aetrack.data.augment import sample_transform, warp_image, warp_keypoints
from aetrack.data.dataset import ClipSample, TrainingDataset
from aetrack.skeleton import FLIP, JOINT_INDEX
from aetrack.train.trainer import Trainer


def _dot_image(h, w, xy):
    img = np.zeros((h, w, 3), np.uint8)
    x, y = np.round(xy).astype(int)
    img[y - 1:y + 2, x - 1:x + 2] = 255
    return img


@pytest.mark.parametrize("seed", range(5))
def test_keypoints_follow_the_warped_image(seed):
    rng = np.random.default_rng(seed)
    h, w, size = 120, 200, 96
    xy = np.array([rng.uniform(40, 160), rng.uniform(30, 90)])
    t = sample_transform(rng, (h, w), size, AugmentConfig(flip=0.5))
    warped = warp_image(_dot_image(h, w, xy), t, size)[..., 0].astype(float)
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, 0] = [*xy, 2]
    moved = warp_keypoints(kp, t, size)[0, 0]  # nose stays the nose under a mirror
    assert warped.sum() > 0
    yy, xx = np.nonzero(warped > 0)
    centre = np.array([(xx * warped[yy, xx]).sum(), (yy * warped[yy, xx]).sum()]) / warped[yy, xx].sum()
    assert np.abs(centre - moved[:2]).max() < 0.75


def test_mirror_swaps_left_and_right_joints():
    t = sample_transform(np.random.default_rng(0), (100, 100), 100,
                         AugmentConfig(scale=(1, 1), rotation=0, translate=0, flip=1.0, color=0))
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, JOINT_INDEX["left_wrist"]] = [10, 50, 2]
    out = warp_keypoints(kp, t, 100)
    assert out[0, JOINT_INDEX["right_wrist"], 2] == 2 and out[0, JOINT_INDEX["left_wrist"], 2] == 0
    assert out[0, JOINT_INDEX["right_wrist"], 0] == pytest.approx(89, abs=1e-3)
    assert (FLIP[FLIP] == np.arange(17)).all()


class StickFigures:
    """A tiny clip source made here: a few bright 'people' whose joints are dots on a dark background."""

    clip_length = 2

    def __init__(self, n: int = 8, size: int = 96) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> ClipSample:
        rng = np.random.default_rng(i)
        people = 2
        kp = np.zeros((2, people, 17, 3), np.float32)
        images = np.zeros((2, self.size, self.size, 3), np.uint8)
        for p in range(people):
            base = rng.uniform(20, self.size - 20, size=2)
            offsets = rng.uniform(-12, 12, size=(17, 2))
            for f in range(2):
                pts = base + offsets + f * 2
                kp[f, p, :, :2] = pts
                kp[f, p, :, 2] = 2
                for j, (x, y) in enumerate(pts.astype(int)):
                    images[f, y - 1:y + 2, x - 1:x + 2] = (40 + 12 * j, 255 - 10 * j, 120 + 60 * p)
        return ClipSample(images, kp)


def _tiny_config(tmp_path) -> Config:
    model = ModelConfig(stacks=1, stem=(8, 16), width=16, increase=8, batch_norm=True, temporal_dim=1,
                        input_size=64)
    train = TrainConfig(data=DataConfig(kind="synth"), batch_size=4, clip_length=2, iterations=40, workers=0,
                        out=str(tmp_path / "run"), checkpoint_every=1000, lr=3e-3,
                        augment=AugmentConfig(rotation=0, scale=(1, 1), translate=0, flip=0, color=0))
    return Config(model=model, train=train)


def test_dataset_builds_consistent_targets(tmp_path):
    config = _tiny_config(tmp_path)
    item = TrainingDataset(StickFigures(), 64, config.train, augment=False)[0]
    assert item["images"].shape == (2, 64, 64, 3) and item["heatmaps"].shape == (2, 17, 16, 16)
    joints = item["joints"]
    assert joints.shape == (2, config.train.max_people, 17, 2)
    assert (joints[:, :2, :, 1] == 1).all() and (joints[:, 2:, :, 1] == 0).all()
    # every visible joint's index points at a heatmap pixel of value 1 (the Gaussian's peak)
    flat = item["heatmaps"].reshape(2, -1)
    for f in range(2):
        idx = joints[f, :2, :, 0].reshape(-1)
        assert torch.allclose(flat[f, idx], torch.ones(len(idx)))


def test_training_reduces_the_loss_and_resumes(tmp_path, monkeypatch):
    config = _tiny_config(tmp_path)
    monkeypatch.setattr("aetrack.train.trainer.make_source", lambda train, seed=0: StickFigures(8))
    trainer = Trainer(config, device="cpu")
    loader, _ = trainer._loader()
    batch = next(iter(loader))
    first = trainer.step(batch)["loss"]
    for _ in range(25):
        last = trainer.step(batch)["loss"]
    assert last < 0.5 * first
    path = trainer.save()
    resumed = Trainer(config, resume=True, device="cpu")
    assert resumed.iteration == trainer.iteration == 26
    for a, b in zip(trainer.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert path.is_file()


def test_fit_writes_log_and_checkpoint(tmp_path, monkeypatch):
    config = _tiny_config(tmp_path)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, iterations=4, log_every=2))
    monkeypatch.setattr("aetrack.train.trainer.make_source", lambda train, seed=0: StickFigures(8))
    path = Trainer(config, device="cpu").fit(progress=False)
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(log) == 2 and path.name == "last.pt"
    from aetrack.model import load_model
    assert load_model(path)(torch.rand(1, 3, 64, 64)).shape == (1, 1, 17 * 3, 16, 16)


def test_validation_reports_coco_ap_on_a_held_out_set(tmp_path):
    from aetrack.data.synth import write_dataset

    write_dataset(tmp_path / "val", seed=3, videos=1, frames=3, people=2, size=(128, 96))
    config = _tiny_config(tmp_path)
    config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, data=DataConfig(kind="synth", val=str(tmp_path / "val" / "coco.json"))))
    stats = Trainer(config, device="cpu").validate()
    assert set(stats) >= {"AP", "AR"} and -1 <= stats["AP"] <= 1


def test_dataset_adds_targets_at_further_strides(tmp_path):
    config = _tiny_config(tmp_path)
    item = TrainingDataset(StickFigures(), 64, config.train, augment=False, extra_strides=(2,))[0]
    fine, coarse = item["heatmaps_s2"], item["heatmaps"]
    assert fine.shape == (2, 17, 32, 32) and item["masks_s2"].shape == (2, 32, 32)
    # the same joints: each stride-4 peak pixel (x, y) has its stride-2 peak at (2x or 2x + 1, 2y or 2y + 1)
    for j in range(17):
        y4, x4 = np.unravel_index(int(coarse[0, j].argmax()), coarse.shape[-2:])
        y2, x2 = np.unravel_index(int(fine[0, j].argmax()), fine.shape[-2:])
        assert abs(x2 // 2 - x4) <= 1 and abs(y2 // 2 - y4) <= 1


def test_fine_tuning_a_downloaded_higherhrnet_reduces_the_loss(tmp_path, monkeypatch, shared):
    """`aetrack train --weights higherhrnet.pth`: the network comes from the file (mmpose's layout), the
    training settings from the config; heatmaps are supervised at strides 4 and 2, tags at stride 4."""
    weights = shared / "fixtures" / "mmpose_ae_reference" / "higherhrnet_small.pth"
    config = _tiny_config(tmp_path)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, input_size=128))
    monkeypatch.setattr("aetrack.train.trainer.make_source", lambda train, seed=0: StickFigures(8, size=128))
    trainer = Trainer(config, init_weights=str(weights), device="cpu")
    assert trainer.config.model.arch == "higherhrnet" and trainer.config.model.temporal_dim == 0
    from aetrack.model import load_model
    start = load_model(weights).state_dict()
    assert all(torch.equal(start[k], v) for k, v in trainer.model.state_dict().items())
    loader, _ = trainer._loader()
    batch = next(iter(loader))
    assert batch["heatmaps_s2"].shape == (4, 17, 64, 64)
    first = trainer.step(batch)
    for _ in range(20):
        last = trainer.step(batch)
    assert last["loss"] < 0.5 * first["loss"] and last["detection"] < first["detection"]
    path = trainer.save()
    out = load_model(path)(torch.rand(1, 3, 128, 128))
    assert [tuple(o.shape) for o in out] == [(1, 34, 32, 32), (1, 17, 64, 64)]
