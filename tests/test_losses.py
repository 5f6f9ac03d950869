"""Training losses: parity with the authors' grouping loss, and properties of every term."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from aetrack.config import ModelConfig
from aetrack.data.targets import ignore_mask, joint_indices, render_heatmaps
from aetrack.model import build_model
from aetrack.train.losses import AELoss, grouping_loss, heatmap_loss, temporal_grouping_loss

SHARED = Path(os.environ.get("AETRACK_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FIXTURE = SHARED / "fixtures" / "pose_ae_reference"
J = 17


def _fixture_cases() -> list[int]:
    path = FIXTURE / "ae_loss_cases.json"
    return [c["case"] for c in json.loads(path.read_text())["cases"]] if path.is_file() else []


CASES = _fixture_cases()
needs_fixture = pytest.mark.skipif(
    not CASES, reason=f"reference fixture {FIXTURE}/ae_loss_cases.json not found (set AETRACK_SHARED)")


@pytest.fixture(scope="module")
def fixture_arrays() -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURE / "ae_loss_cases.npz"))


def _push_pull_and_grad(tags: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Push (N,), pull (N,) and d(sum push + pull)/d(tags) for numpy inputs."""
    t = torch.tensor(tags, requires_grad=True)
    push, pull = grouping_loss(t, torch.tensor(joints))
    (push.sum() + pull.sum()).backward()
    return push.detach().numpy(), pull.detach().numpy(), t.grad.numpy()


def _close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5) -> None:
    """Relative agreement, scaled by the largest expected magnitude (gradients are mostly zeros)."""
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@needs_fixture
@pytest.mark.parametrize("case", CASES or [None])
def test_grouping_loss_matches_reference(case: int, fixture_arrays: dict[str, np.ndarray]) -> None:
    d = fixture_arrays
    push, pull, grad = _push_pull_and_grad(d[f"case{case}_tags"][None], d[f"case{case}_keypoints"][None])
    _close(push[0], d[f"case{case}_push"])
    _close(pull[0], d[f"case{case}_pull"])
    _close(grad[0], d[f"case{case}_grad"])


@needs_fixture
def test_grouping_loss_batch_equals_single_images(fixture_arrays: dict[str, np.ndarray]) -> None:
    d = fixture_arrays
    tags = np.stack([d[f"case{c}_tags"] for c in CASES])
    joints = np.stack([d[f"case{c}_keypoints"] for c in CASES])
    push, pull, grad = _push_pull_and_grad(tags, joints)
    for i, c in enumerate(CASES):
        _close(push[i], d[f"case{c}_push"])
        _close(pull[i], d[f"case{c}_pull"])
        _close(grad[i], d[f"case{c}_grad"])


def _loop_grouping(tags: np.ndarray, joints: np.ndarray) -> tuple[float, float]:
    """The formula written plainly for one image: tags (K, D), joints (M, L, 2)."""
    means, pulls = [], []
    for person in joints:
        values = np.array([tags[i] for i, v in person if v > 0], np.float64)
        if len(values):
            means.append(values.mean(0))
            pulls.append(((values - means[-1]) ** 2).mean())
    if not means:
        return 0.0, 0.0
    pairs = [np.exp(-((a - b) ** 2).sum()) for i, a in enumerate(means) for b in means[i + 1:]]
    return (0.5 * float(np.mean(pairs)) if pairs else 0.0), float(np.mean(pulls))


def _random_problem(rng: np.random.Generator, n: int, m: int, k: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    tags = rng.normal(size=(n, k, d)).astype(np.float32)
    joints = np.stack([rng.integers(0, k, (n, m, J)), rng.random((n, m, J)) < 0.6], -1).astype(np.int64)
    joints[:, -1, :, 1] = 0  # an empty slot, as padding
    return tags, joints


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_grouping_loss_any_tag_dimension_matches_plain_formula(dim: int) -> None:
    tags, joints = _random_problem(np.random.default_rng(dim), n=3, m=5, k=200, d=dim)
    push, pull = grouping_loss(torch.tensor(tags), torch.tensor(joints))
    for i in range(3):
        ref_push, ref_pull = _loop_grouping(tags[i], joints[i])
        assert push[i].item() == pytest.approx(ref_push, rel=1e-5, abs=1e-7)
        assert pull[i].item() == pytest.approx(ref_pull, rel=1e-5, abs=1e-7)


def test_no_visible_joints_gives_zero_loss_and_gradient() -> None:
    tags = torch.randn(2, 50, 2, requires_grad=True)
    joints = torch.zeros(2, 4, J, 2, dtype=torch.int64)
    joints[..., 0] = 7  # indices without the visible flag must be ignored
    push, pull = grouping_loss(tags, joints)
    (push.sum() + pull.sum()).backward()
    assert push.tolist() == [0.0, 0.0] and pull.tolist() == [0.0, 0.0]
    assert torch.all(tags.grad == 0)


def test_pull_is_zero_when_each_person_has_one_tag() -> None:
    k = 3 * J
    joints = torch.stack([torch.arange(k).reshape(3, J), torch.ones(3, J, dtype=torch.int64)], -1)[None]
    tags = torch.tensor([0.0, 1.0, 2.5]).repeat_interleave(J)[None, :, None]
    push, pull = grouping_loss(tags, joints)
    assert pull.item() == pytest.approx(0.0, abs=1e-12)
    expected = 0.5 * np.mean([np.exp(-1.0), np.exp(-2.5**2), np.exp(-1.5**2)])
    assert push.item() == pytest.approx(expected, rel=1e-6)


def test_push_falls_as_people_move_apart() -> None:
    joints = torch.stack([torch.arange(2 * J).reshape(2, J), torch.ones(2, J, dtype=torch.int64)], -1)[None]
    pushes = []
    for gap in (0.0, 0.5, 1.0, 2.0, 4.0):
        tags = torch.cat([torch.zeros(J), torch.full((J,), gap)])[None, :, None]
        pushes.append(grouping_loss(tags, joints)[0].item())
    assert pushes[0] == pytest.approx(0.5)
    assert all(a > b for a, b in zip(pushes, pushes[1:]))
    assert pushes[-1] < 1e-6


def test_loss_invariant_to_order_of_people_and_joint_rows() -> None:
    tags, joints = _random_problem(np.random.default_rng(3), n=2, m=6, k=300, d=2)
    rng = np.random.default_rng(4)
    shuffled = joints[:, rng.permutation(6)][:, :, rng.permutation(J)]
    a = grouping_loss(torch.tensor(tags), torch.tensor(joints))
    b = grouping_loss(torch.tensor(tags), torch.tensor(shuffled))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7)


def test_temporal_loss_zero_for_constant_far_apart_tracks() -> None:
    n, t, m, e, k = 2, 3, 3, 2, 100
    rng = np.random.default_rng(5)
    # Distinct positions per frame, so that no pixel is claimed by two tracks.
    index = np.stack([rng.permutation(k)[:m * J] for _ in range(n * t)]).reshape(n, t, m, J)
    joints = np.stack([index, rng.random((n, t, m, J)) < 0.7], -1)
    tags = np.zeros((n, t, k, e), np.float32)
    for track, embedding in enumerate([(0.0, 0.0), (10.0, 0.0), (0.0, -10.0)]):
        for i in range(n):
            for f in range(t):
                index = joints[i, f, track, :, 0][joints[i, f, track, :, 1] > 0]
                tags[i, f, index] = embedding
    push, pull = temporal_grouping_loss(torch.tensor(tags), torch.tensor(joints, dtype=torch.int64))
    assert torch.all(pull.abs() < 1e-12) and torch.all(push < 1e-20)


def test_temporal_loss_pools_frames_into_tracks() -> None:
    tags, joints = _random_problem(np.random.default_rng(6), n=2, m=4, k=120, d=3)
    # One frame: the same as the per-image loss.
    one = temporal_grouping_loss(torch.tensor(tags)[:, None], torch.tensor(joints)[:, None])
    for x, y in zip(one, grouping_loss(torch.tensor(tags), torch.tensor(joints))):
        torch.testing.assert_close(x, y)
    # Two frames of one clip: a track is the union of its joints in both frames (tags of frame 2 offset by K).
    clip_tags = torch.tensor(tags).reshape(1, 2, 120, 3)
    clip_joints = torch.tensor(joints)[None]
    push, pull = temporal_grouping_loss(clip_tags, clip_joints)
    union = torch.cat([clip_joints[0, 0], clip_joints[0, 1] + torch.tensor([120, 0])], 1)[None]
    ref_push, ref_pull = _loop_grouping(clip_tags.reshape(240, 3).numpy(), union[0].numpy())
    assert push.item() == pytest.approx(ref_push, rel=1e-5, abs=1e-7)
    assert pull.item() == pytest.approx(ref_pull, rel=1e-5, abs=1e-7)


def test_heatmap_loss_is_masked_mean_over_joints_and_pixels() -> None:
    target = torch.zeros(2, J, 4, 4)
    pred = torch.ones(2, J, 4, 4)
    mask = torch.ones(2, 4, 4)
    mask[1, :2] = 0  # half of image 1 ignored: its error counts as 0 but still divides
    torch.testing.assert_close(heatmap_loss(pred, target, mask), torch.tensor([1.0, 0.5]))
    assert heatmap_loss(target, target, mask).abs().max() == 0


def _tiny_setup(temporal_dim: int = 0) -> tuple[ModelConfig, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A tiny 2-stack hourglass config and one fixed synthetic batch of 2 images with 2 people each."""
    config = ModelConfig(stacks=2, stem=(8, 16), width=16, increase=8, depth=2, temporal_dim=temporal_dim,
                         input_size=64)
    rng = np.random.default_rng(0)
    keypoints = np.concatenate([rng.uniform(1, 15, (2, J, 2)), np.ones((2, J, 1))], -1)
    size = (16, 16)
    heatmaps = torch.tensor(render_heatmaps(keypoints, size, sigma=1.0))[None].repeat(2, 1, 1, 1)
    masks = torch.tensor(ignore_mask(size))[None].repeat(2, 1, 1)
    joints = torch.tensor(joint_indices(keypoints, size, max_people=4))[None].repeat(2, 1, 1, 1)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    return config, images, heatmaps, masks, joints


def test_ae_loss_decreases_training_a_tiny_hourglass() -> None:
    torch.manual_seed(0)
    config, images, heatmaps, masks, joints = _tiny_setup(temporal_dim=1)
    model = build_model(config)
    loss_fn = AELoss(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):
        total, parts = loss_fn(model(images), heatmaps, masks, joints, clip_length=2)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        losses.append(total.item())
    assert set(parts) == {"detection", "push", "pull", "temporal_push", "temporal_pull"}
    assert losses[-1] < 0.8 * losses[0]


def test_ae_loss_parts_and_intermediate_supervision() -> None:
    config, _, heatmaps, masks, joints = _tiny_setup()
    output = torch.randn(2, config.stacks, config.out_channels, 16, 16)
    total, parts = AELoss(config)(output, heatmaps, masks, joints)
    detection = torch.stack([heatmap_loss(output[:, s, :J], heatmaps, masks) for s in range(2)]).mean()
    # Tag channel layout: dimension d of joint j at channel J + d * J + j; tag_dim 1 -> channels J..2J.
    tags = output[:, :, J:2 * J].reshape(2 * config.stacks, -1, 1)
    push, pull = grouping_loss(tags, joints.repeat_interleave(config.stacks, 0))
    torch.testing.assert_close(parts["detection"], detection)
    torch.testing.assert_close(parts["push"], push.mean())
    torch.testing.assert_close(parts["pull"], pull.mean())
    torch.testing.assert_close(total, detection + 1e-3 * (push.mean() + pull.mean()))


def test_ae_loss_reads_each_tag_dimension_from_its_channels() -> None:
    config = ModelConfig(stacks=1, tag_dim=2, extra_channels=3)
    joints = torch.zeros(1, 2, J, 2, dtype=torch.int64)
    joints[0, :, 5] = torch.tensor([[5 * 16 + 0, 1], [5 * 16 + 1, 1]])  # joint 5 of two people at (0,0), (1,0)
    joints[0, :, 9] = torch.tensor([[9 * 16 + 0, 1], [9 * 16 + 1, 1]])
    output = torch.zeros(1, 1, config.out_channels, 4, 4)
    # Person 0 gets tag (0, 0) everywhere; person 1 gets (1, 2) via dimension 0 at J + j, dimension 1 at 2J + j.
    for j in (5, 9):
        output[0, 0, J + j, 0, 1] = 1.0
        output[0, 0, 2 * J + j, 0, 1] = 2.0
    _, parts = AELoss(config)(output, torch.zeros(1, J, 4, 4), torch.ones(1, 4, 4), joints)
    assert parts["pull"].item() == pytest.approx(0.0, abs=1e-12)
    assert parts["push"].item() == pytest.approx(0.5 * np.exp(-5.0), rel=1e-6)


def test_ae_loss_rejects_wrong_channels_and_partial_clips() -> None:
    config, _, heatmaps, masks, joints = _tiny_setup(temporal_dim=1)
    with pytest.raises(ValueError, match="channels"):
        AELoss(config)(torch.zeros(2, 2, config.out_channels + 1, 16, 16), heatmaps, masks, joints)
    with pytest.raises(ValueError, match="clips"):
        AELoss(config)(torch.zeros(2, 2, config.out_channels, 16, 16), heatmaps, masks, joints, clip_length=3)
