"""Training sources: COCO (real images), PoseTrack 2018 (synthetic videos in its layout), synthetic clips."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aetrack.config import TrainConfig
from aetrack.data.dataset import TrainingDataset
from aetrack.data.sources import CocoImages, PoseTrackClips, SynthClips
from aetrack.data.synth import write_dataset
from aetrack.errors import AetrackError


def test_coco_images_with_crowd_and_unlabelled_masks(shared):
    root = shared / "data" / "coco" / "mini_val2017"
    source = CocoImages(root / "annotations" / "person_keypoints_val2017.json", root / "val2017")
    assert len(source) > 20
    sample = source[0]
    assert sample.images.shape[0] == 1 and sample.images.shape[-1] == 3
    assert sample.keypoints.shape[1:] == (sample.keypoints.shape[1], 17, 3)
    assert (sample.keypoints[..., 2] > 0).any()
    masked = sum(int(source[i].ignore.any()) for i in range(len(source)))
    assert masked > 0  # some images hold crowds or people without keypoints
    item = TrainingDataset(source, 128, TrainConfig(clip_length=1, batch_size=2))[0]
    assert item["heatmaps"].shape == (1, 17, 32, 32) and item["joint_weights"].all()


def test_posetrack_clips_follow_tracks_and_skip_unlabelled_joints(tmp_path):
    write_dataset(tmp_path, seed=11, videos=1, frames=6, people=3, size=(160, 96))
    source = PoseTrackClips(tmp_path / "annotations", tmp_path, clip_length=3)
    assert len(source) == 4
    clip = source[1]
    assert clip.images.shape == (3, 96, 160, 3)
    assert not clip.labelled[1:5].any() and clip.labelled[[0, 5, 16]].all()
    # the same slot is the same track in all frames: its hips move little between neighbouring frames
    hips = clip.keypoints[:, :, 11, :2]
    seen = clip.keypoints[:, :, 11, 2] > 0
    both = seen[0] & seen[1]
    assert np.all(np.abs(hips[0, both] - hips[1, both]).max(initial=0) < 20)
    item = TrainingDataset(source, 128, TrainConfig(clip_length=3, batch_size=3))[0]
    assert torch.equal(item["joint_weights"][0, 1:5], torch.zeros(4))


def test_missing_posetrack_folder_is_a_clear_error(tmp_path):
    with pytest.raises(AetrackError, match="no JSON files"):
        PoseTrackClips(tmp_path / "nothing", tmp_path)


def test_synth_clips_are_deterministic():
    a, b = SynthClips(2, 10, (2, 3), (160, 96), seed=4), SynthClips(2, 10, (2, 3), (160, 96), seed=4)
    ca, cb = a[3], b[3]
    assert np.array_equal(ca.images, cb.images) and np.array_equal(ca.keypoints, cb.keypoints)
    assert ca.images.shape == (2, 96, 160, 3)
