"""Single-person refinement: boxes, crops and heatmap decoding against mmpose 0.29's recorded top-down path."""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aetrack.errors import AetrackError
from aetrack.poses import Poses
from aetrack.refine import (RefineConfig, Refiner, box_to_center_scale, crop, crop_transform, decode_crop, decode_crops,
                            keypoint_boxes, merge_keypoints, merge_poses, person_boxes, stray_joints)
from aetrack.skeleton import FLIP, NUM_JOINTS


@pytest.fixture(scope="module")
def topdown(shared):
    folder = shared / "fixtures" / "mmpose_ae_reference"
    return json.loads((folder / "recorded.json").read_text())["topdown"], np.load(folder / "topdown_cases.npz")


def test_box_to_center_scale_equals_mmpose(topdown):
    cases, _ = topdown
    assert len(cases) == 72
    for c in cases:
        center, size = box_to_center_scale(c["bbox_xywh"], input_size=(256, 256), padding=1.25)
        assert np.allclose(center, c["center"], atol=1e-3) and np.allclose(size, np.array(c["scale"]) * 200, atol=1e-2)


def test_box_to_center_scale_keeps_the_input_aspect_ratio():
    center, size = box_to_center_scale([10, 20, 30, 100], input_size=(192, 256), padding=1.0)
    assert np.allclose(center, [25, 70]) and np.allclose(size, [75, 100])
    center, size = box_to_center_scale([0, 0, 300, 100], input_size=(192, 256))
    assert np.allclose(size, [375, 500])


def test_decode_crop_equals_mmpose(topdown):
    cases, z = topdown
    kinds, worst = set(), 0.0
    for c in cases:
        maps = [z[c["key"] + "_flip0"].astype(np.float32)]
        if c["flip"]:
            maps.append(z[c["key"] + "_flip1"].astype(np.float32))
        kp = decode_crop(maps, np.array(c["center"]), np.array(c["scale"]) * 200, post_process=c["post_process"])
        assert kp.shape == (17, 3)
        worst = max(worst, float(np.abs(kp - z[c["key"] + "_preds"]).max()))
        kinds.add((c["flip"], c["post_process"]))
    assert worst <= 1e-2, worst
    assert kinds == {(False, "default"), (True, "default"), (True, "unbiased")}


def test_decode_crops_batches_people(topdown):
    cases, z = topdown
    cases = [c for c in cases if c["flip"] and c["post_process"] == "unbiased"][:5]
    maps = [np.stack([z[c["key"] + f"_flip{f}"].astype(np.float32) for c in cases]) for f in (0, 1)]
    centers = np.array([c["center"] for c in cases])
    sizes = np.array([c["scale"] for c in cases]) * 200
    kp = decode_crops(maps, centers, sizes, post_process="unbiased")
    assert np.abs(kp - np.stack([z[c["key"] + "_preds"] for c in cases])).max() <= 1e-2


def test_crop_equals_mmpose_input(shared, topdown):
    cases, z = topdown
    c = next(c for c in cases if c["key"] == "img0_person0_var0")
    image = cv2.cvtColor(cv2.imread(str(shared / c["image"])), cv2.COLOR_BGR2RGB)
    x = crop(image, np.array(c["center"]), np.array(c["scale"]) * 200, input_size=(256, 256))
    assert x.shape == (3, 256, 256) and x.dtype == np.float32
    assert np.abs(x - z["img0_person0_input"]).max() < 1e-4


def _gaussian_maps(xy: np.ndarray, size: int = 64, sigma: float = 2.0) -> np.ndarray:
    """Maps (17, size, size) with a unit Gaussian at each joint's heatmap position xy (17, 2)."""
    g = np.arange(size, dtype=np.float64)
    d = (g[None, None, :] - xy[:, 0, None, None]) ** 2 + (g[None, :, None] - xy[:, 1, None, None]) ** 2
    return np.exp(-d / (2 * sigma**2)).astype(np.float32)


def test_image_to_heatmap_to_image_round_trips():
    # a point of the image -> the crop's input pixels -> heatmap pixels (a quarter of them) -> back
    rng = np.random.default_rng(0)
    center, size = np.array([320.0, 200.0]), np.array([180.0, 180.0])
    m = crop_transform(center, size, (256, 256))
    points = center + rng.uniform(-60, 60, (NUM_JOINTS, 2))
    on_map = (np.c_[points, np.ones(NUM_JOINTS)] @ m.T) / 4
    kp = decode_crop([_gaussian_maps(on_map)], center, size, post_process="unbiased")
    assert np.abs(kp[:, :2] - points).max() < 0.1 * size[0] / 64  # DARK: a tenth of a heatmap pixel
    assert np.allclose(kp[:, 2], 1.0, atol=0.05)
    kp = decode_crop([_gaussian_maps(on_map)], center, size, post_process="default")
    assert np.abs(kp[:, :2] - points).max() <= 0.5 * size[0] / 64  # the quarter step: half a heatmap pixel


def test_flip_test_of_a_mirrored_crop_agrees():
    rng = np.random.default_rng(1)
    xy = rng.uniform(8, 56, (NUM_JOINTS, 2))
    # what a network gives for the mirrored crop: joints swapped, x mirrored (and, as mmpose assumes, a pixel right)
    mirrored = xy[FLIP].copy()
    mirrored[:, 0] = 63 - mirrored[:, 0] + 1
    center, size = np.array([100.0, 100.0]), np.array([64.0, 64.0])
    one = decode_crop([_gaussian_maps(xy)], center, size, post_process="unbiased")
    both = decode_crop([_gaussian_maps(xy), _gaussian_maps(mirrored)], center, size, post_process="unbiased")
    assert np.abs(one - both).max() < 0.05


def test_decode_rejects_bad_arguments():
    maps = [np.zeros((17, 64, 64), np.float32)]
    with pytest.raises(AetrackError):
        decode_crop(maps, [0, 0], [100, 100], post_process="megvii")
    with pytest.raises(AetrackError):
        decode_crop(maps * 3, [0, 0], [100, 100])
    with pytest.raises(AetrackError):
        decode_crop([maps[0], np.zeros((17, 32, 32), np.float32)], [0, 0], [100, 100])
    # maps without a positive value: no peak (-1, as mmpose), score 0, no error
    kp = decode_crop(maps, [50, 50], [64, 64], post_process="unbiased")
    assert np.isfinite(kp).all() and (kp[:, 2] == 0).all()


def test_keypoint_boxes():
    kp = np.zeros((2, NUM_JOINTS, 3), np.float32)
    kp[0, :3] = [[10, 20, 1], [30, 60, 0.5], [100, 0, 0]]  # the third joint is not found
    boxes = keypoint_boxes(kp, margin=1.5)
    assert np.allclose(boxes[0], [5, 10, 30, 60])
    assert np.allclose(boxes[1], 0)


# ---- the refinement stage ---------------------------------------------------------------------------------------

def test_merge_weights_each_joint_by_its_scores():
    multi = np.zeros((1, NUM_JOINTS, 3), np.float32)
    single = np.zeros((1, NUM_JOINTS, 3), np.float32)
    multi[0, 0], single[0, 0] = [10, 10, 0.6], [20, 30, 0.2]   # both found: weighted 3:1
    single[0, 1] = [5, 6, 0.8]                                  # only the single-person network found it
    multi[0, 2] = [7, 8, 0.4]                                   # only the multi-person decoder found it
    merged = merge_keypoints(multi, single)
    assert np.allclose(merged[0, 0], [12.5, 15, 0.4])
    assert np.allclose(merged[0, 1], [5, 6, 0.4]) and np.allclose(merged[0, 2], [7, 8, 0.2])
    assert np.allclose(merged[0, 3], 0)
    # equal predictions are left where they are, whatever the scores
    assert np.allclose(merge_keypoints(multi, multi)[..., :2], multi[..., :2])


def test_merge_single_takes_the_single_person_joint_wherever_it_found_one():
    multi = np.zeros((1, NUM_JOINTS, 3), np.float32)
    single = np.zeros((1, NUM_JOINTS, 3), np.float32)
    multi[0, 0], single[0, 0] = [10, 10, 0.6], [20, 30, 0.2]
    multi[0, 2] = [7, 8, 0.4]                                   # only the multi-person decoder found it
    merged = merge_keypoints(multi, single, "single")
    assert np.allclose(merged[0, 0], [20, 30, 0.2]) and np.allclose(merged[0, 2], [7, 8, 0.4])
    assert np.allclose(merged[0, 3], 0)
    with pytest.raises(AetrackError, match="merge"):
        RefineConfig(merge="median")


def _person(x: np.ndarray, y: np.ndarray, score: float = 0.9) -> np.ndarray:
    """(17, 3) keypoints at x, y (17 values each), every joint found with `score`."""
    return np.stack([x, y, np.full(NUM_JOINTS, score)], axis=1).astype(np.float32)


def test_stray_joints_are_those_far_from_the_rest_of_the_person():
    rng = np.random.default_rng(1)
    person = _person(rng.uniform(240, 270, NUM_JOINTS), np.linspace(135, 255, NUM_JOINTS))
    mixed = person.copy()
    mixed[15:, :2] = [[624, 251], [624, 251]]        # ankles grouped from someone at the image's edge
    few = np.zeros_like(person)
    few[:3] = [[10, 10, 0.9], [12, 11, 0.9], [300, 200, 0.9]]   # too few joints to tell
    stray = stray_joints(np.stack([person, mixed, few]), 3.0)
    assert not stray[0].any() and not stray[2].any()
    assert np.flatnonzero(stray[1]).tolist() == [15, 16]
    # the box then holds the person alone
    box = keypoint_boxes(np.where(stray[1][:, None], 0, mixed)[None], 1.0)[0]
    assert box[0] + box[2] < 300
    with pytest.raises(AetrackError, match="stray_spread"):
        RefineConfig(stray_spread=-1)


def test_refinement_drops_the_lower_scoring_of_two_matching_poses():
    """The rule behind RefineConfig.duplicate_oks (mmpose's greedy OKS-NMS) on the duplicates refinement makes."""
    from aetrack.inference.people import oks_nms

    rng = np.random.default_rng(0)
    person = _person(rng.uniform(100, 140, NUM_JOINTS), rng.uniform(100, 200, NUM_JOINTS))
    near = person.copy()
    near[:, :2] += 1.0                              # the same body, a pixel off
    other = person.copy()
    other[:, 0] += 60                               # someone beside them
    fragment = person.copy()
    fragment[9:, 2] = 0                             # found only where the whole person's joints also are

    def kept(*people_and_scores):
        poses = _poses(np.stack([p for p, _ in people_and_scores]))
        poses.scores = np.array([s for _, s in people_and_scores], np.float32)
        return sorted(oks_nms(poses, RefineConfig().duplicate_oks).tolist())

    assert kept((near, 0.5), (person, 0.8), (other, 0.7)) == [1, 2]
    assert kept((person, 0.6), (fragment, 0.9)) == [1]
    with pytest.raises(AetrackError, match="duplicate_oks"):
        RefineConfig(duplicate_oks=1.5)


def _poses(keypoints: np.ndarray) -> Poses:
    p = len(keypoints)
    return Poses(keypoints.astype(np.float32), keypoints[..., 2].mean(1).astype(np.float32),
                 np.arange(p, dtype=np.float32)[:, None], np.ones((p, NUM_JOINTS, 1), np.float32),
                 np.full((p, 2), 7, np.float32))


def test_merge_poses_keeps_tags_and_scores():
    kp = np.zeros((2, NUM_JOINTS, 3), np.float32)
    kp[:, :, 2] = 0.5
    single = kp.copy()
    single[:, :, 2] = 1.0
    assert np.allclose(merge_poses(_poses(kp), single, np.array([True, False]), rescore=True).scores, [0.75, 0.5])
    out = merge_poses(_poses(kp), single, np.array([True, False]))
    assert np.allclose(out.scores, [0.5, 0.5]) and np.allclose(out.keypoints[0, :, 2], 0.75)
    assert np.allclose(out.keypoints[1], kp[1])
    assert np.allclose(out.tags[:, 0], [0, 1]) and np.allclose(out.temporal, 7) and out.joint_tags.shape == (2, 17, 1)


def test_person_boxes_join_the_track_box_they_overlap():
    kp = np.zeros((2, NUM_JOINTS, 3), np.float32)
    kp[0, :2] = [[100, 100, 1], [120, 140, 1]]   # the upper half of a person whose track box is taller
    kp[1, :2] = [[400, 400, 1], [420, 440, 1]]   # nobody's track
    boxes, joined = person_boxes(kp, 1.0, np.array([[100, 100, 120, 180]]))
    assert joined.tolist() == [True, False]
    assert np.allclose(boxes[0], [100, 100, 20, 80]) and np.allclose(boxes[1], [400, 400, 20, 40])


@pytest.fixture(scope="module")
def small_refiner_path(shared):
    return shared / "fixtures" / "mmpose_ae_reference" / "topdown_hourglass_small.pth"


def test_refiner_runs_the_network_on_each_crop(shared, topdown, small_refiner_path):
    """Refiner.keypoints (BGR image, batched, flip test) = crop -> network -> decode_crop of each person."""
    cases, _ = topdown
    mine = [c for c in cases if c["key"].startswith("img0_") and c["key"].endswith("_var0")][:3]
    bgr = cv2.imread(str(shared / mine[0]["image"]))
    refiner = Refiner.from_checkpoint(small_refiner_path, "cpu", RefineConfig(flip=True, batch=2))
    got = refiner.keypoints(bgr, np.array([c["bbox_xywh"] for c in mine]))
    for c, kp in zip(mine, got):
        center, size = box_to_center_scale(c["bbox_xywh"])
        x = torch.from_numpy(crop(bgr[:, :, ::-1], center, size))[None]
        with torch.no_grad():
            maps = [refiner.model(x)[0].numpy(), refiner.model(x.flip(-1))[0].numpy()]
        assert np.abs(kp - decode_crop(maps, center, size)).max() < 1e-3


def test_refiner_keeps_people_and_skips_those_with_few_joints(shared, topdown, small_refiner_path):
    cases, _ = topdown
    bgr = cv2.imread(str(shared / cases[0]["image"]))
    kp = np.zeros((2, NUM_JOINTS, 3), np.float32)
    kp[0, :, :2] = np.random.default_rng(0).uniform([262, 162], [369, 414], (NUM_JOINTS, 2))
    kp[0, :, 2] = 0.5
    kp[1, 0] = [50, 50, 0.9]  # one joint: no box to crop
    poses = _poses(kp)
    out = Refiner.from_checkpoint(small_refiner_path, "cpu")(bgr, poses)
    assert len(out) == 2 and np.allclose(out.keypoints[1], kp[1]) and not np.allclose(out.keypoints[0], kp[0])
    assert np.allclose(out.tags, poses.tags) and np.allclose(out.temporal, poses.temporal)
    assert Refiner.from_checkpoint(small_refiner_path, "cpu")(bgr, Poses.empty()).keypoints.shape == (0, 17, 3)


def test_refiner_refuses_a_bottom_up_checkpoint(shared):
    with pytest.raises(AetrackError, match="single-person"):
        Refiner.from_checkpoint(shared / "fixtures" / "mmpose_ae_reference" / "hg_ae_small.pth", "cpu")
    with pytest.raises(AetrackError):
        RefineConfig(post_process="megvii")


def test_track_refine_runs_on_the_sample_video(tmp_path, small_refiner_path):
    """`aetrack track` with the bundled demo model refines by default (the bundled single-person model) end to end,
    `--no-refine` does not, and `predict --refine WEIGHTS` takes other weights."""
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def aetrack(*args):
        return subprocess.run([sys.executable, "-m", "aetrack.cli.main", *map(str, args)], capture_output=True,
                              text=True, timeout=600, env=env, stdin=subprocess.DEVNULL)

    video = Path(__file__).resolve().parents[1] / "videos" / "sample.mp4"
    run = aetrack("track", video, "--out", tmp_path, "--max-frames", "3", "--quiet")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "refine" in run.stderr  # its own stage in the timing summary
    plain = aetrack("track", video, "--no-refine", "--out", tmp_path / "plain", "--max-frames", "3", "--quiet")
    assert plain.returncode == 0 and "refine" not in plain.stderr, plain.stderr
    lines = (tmp_path / "sample.jsonl").read_text().splitlines()
    assert [json.loads(ln)["frame"] for ln in lines] == [0, 1, 2]
    assert any(json.loads(ln)["people"] for ln in lines)

    frame = tmp_path / "frame.png"
    ok, image = cv2.VideoCapture(str(video)).read()
    assert ok and cv2.imwrite(str(frame), image)
    run = aetrack("predict", frame, "--out", tmp_path / "r.json", "--refine", small_refiner_path, "--flip",
                  "--refine-decoding", "unbiased", "--quiet")
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "r.json").read_text())

    bad = aetrack("track", video, "--refine", tmp_path / "missing.pth", "--out", tmp_path)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "--refine" in bad.stderr


def test_refinement_is_on_by_default_only_for_the_bundled_demo_model():
    from aetrack.cli.common import BUNDLED_REFINE_WEIGHTS, BUNDLED_WEIGHTS, refine_weights_path
    from aetrack.cli.main import build_parser

    parser = build_parser()

    def weights(*argv):
        return refine_weights_path(parser.parse_args(["track", "v.mp4", *argv]))

    assert weights() == BUNDLED_REFINE_WEIGHTS
    assert weights("--no-refine") is None
    assert weights("--weights", str(BUNDLED_WEIGHTS)) is None  # a model named by the user: its people as they are
    assert weights("--weights", str(BUNDLED_WEIGHTS), "--refine") == BUNDLED_REFINE_WEIGHTS
    assert refine_weights_path(parser.parse_args(["predict", "a.png", "--out", "r.json"])) == BUNDLED_REFINE_WEIGHTS


def test_the_bundled_models_merge_by_the_single_person_joints_and_others_by_the_average():
    from aetrack.cli.common import BUNDLED_WEIGHTS, make_refiner
    from aetrack.cli.main import build_parser
    from aetrack.config import InferenceConfig

    parser = build_parser()

    def rule(*argv):
        return make_refiner(parser.parse_args(["track", "v.mp4", *argv]), "cpu", InferenceConfig()).config.merge

    assert rule() == "single"
    assert rule("--weights", str(BUNDLED_WEIGHTS), "--refine") == "average"   # the user's model: the paper's rule
    assert rule("--refine-merge", "average") == "average"
    assert rule("--weights", str(BUNDLED_WEIGHTS), "--refine", "--refine-merge", "single") == "single"


# ---- training the single-person model ---------------------------------------------------------------------------

class _OnePerson:
    """A clip source of one frame holding one person with known joints (the left ones further left)."""

    clip_length = 1

    def __init__(self) -> None:
        from aetrack.data.dataset import ClipSample

        kp = np.zeros((1, 1, NUM_JOINTS, 3), np.float32)
        kp[0, 0, :, 0] = 100 + 3 * np.arange(NUM_JOINTS)
        kp[0, 0, :, 1] = 60 + 8 * np.arange(NUM_JOINTS)
        kp[0, 0, :, 2] = 2
        kp[0, 0, 4, 2] = 0  # one joint not labelled
        self.sample = ClipSample(np.full((1, 240, 320, 3), 90, np.uint8), kp)

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int):
        return self.sample


def test_person_crops_put_targets_on_the_joints():
    from aetrack.data.person_crops import JOINT_WEIGHTS, PersonCrops
    from aetrack.refine.decode import peaks

    source = _OnePerson()
    item = PersonCrops(source, 128, people=2, augment=False)[0]
    assert item["images"].shape == (2, 128, 128, 3) and item["heatmaps"].shape == (2, 17, 32, 32)
    w = item["joint_weights"].numpy()
    assert w[0, 4] == 0 and np.allclose(np.delete(w[0], 4), np.delete(JOINT_WEIGHTS, 4))
    # the crop is the refinement's crop: its targets decode back to the joints in image pixels
    kp = source.sample.keypoints[0, 0]
    center, size = box_to_center_scale(keypoint_boxes(kp[None], 1.2)[0], (128, 128))
    xy, _ = peaks(item["heatmaps"][0].numpy())
    seen = w[0] > 0
    back = decode_crop([item["heatmaps"][0].numpy()], center, size, post_process="unbiased")
    assert np.abs(back[seen, :2] - kp[seen, :2]).max() < 0.1 * size[0] / 32
    assert (xy[~seen] == -1).all()


def test_person_crops_mirror_swaps_left_and_right():
    from aetrack.data.person_crops import PersonCrops

    plain = PersonCrops(_OnePerson(), 128, people=1, augment=False)._crop
    source = _OnePerson()
    kp = source.sample.keypoints[0, 0]
    crops = PersonCrops(source, 128, people=1, scale=0, rotation_prob=0, flip=1, half_body=0)
    img, mirrored = crops._crop(source.sample.images[0], kp, np.random.default_rng(0))
    _, straight = plain(source.sample.images[0], kp, np.random.default_rng(0))
    assert np.allclose(mirrored[:, 0], 127 - straight[FLIP, 0], atol=1e-3)
    assert np.allclose(mirrored[:, 1], straight[FLIP, 1], atol=1e-3)


def test_joints_mse_loss_weights_joints():
    from aetrack.train.losses import joints_mse_loss

    target = torch.rand(2, 17, 8, 8)
    out = target.clone()
    out[:, 3] += 1
    w = torch.ones(2, 17)
    assert torch.isclose(joints_mse_loss(out, target, w), torch.tensor(0.5 / 17))
    w[:, 3] = 0
    assert joints_mse_loss(out, target, w) == 0
    assert torch.isclose(joints_mse_loss([out, target], target, torch.ones(2, 17)), torch.tensor(0.5 / 17))


def test_trainer_trains_a_single_person_model(tmp_path):
    """`aetrack train` with a topdown-hourglass config: person crops, joint MSE on every stack, a checkpoint the
    Refiner loads."""
    import dataclasses

    from aetrack.config import load_config
    from aetrack.train.trainer import Trainer

    config = load_config(str(Path(__file__).resolve().parents[1] / "configs" / "train_topdown_synth.yaml"))
    model = dataclasses.replace(config.model, stacks=2, stem=(8, 16), width=8, depth=3, stage_channels=(16, 8, 8, 8),
                                stage_blocks=(1, 1, 1, 1), input_size=64)
    train = dataclasses.replace(config.train, batch_size=4, workers=0, out=str(tmp_path), iterations=2,
                                checkpoint_every=1000)
    trainer = Trainer(dataclasses.replace(config, model=model, train=train), device="cpu")
    path = trainer.fit(progress=False)
    assert trainer.iteration == 2
    refiner = Refiner.from_checkpoint(path, "cpu")
    assert refiner.input_size == (64, 64)
    kp = refiner.keypoints(np.zeros((100, 100, 3), np.uint8), np.array([[10, 10, 50, 80]]))
    assert kp.shape == (1, 17, 3) and np.isfinite(kp).all()
