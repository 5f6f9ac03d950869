"""The synthetic video generator: determinism, labels, occlusion, files in PoseTrack/COCO layout, the CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from aetrack.cli.main import main
from aetrack.data.synth import generate_video, render_frame, write_dataset
from aetrack.data.synth_body import Build, Walker, sample_appearance
from aetrack.data.synth_render import sample_scene
from aetrack.errors import AetrackError
from aetrack.io.posetrack_format import (
    COCO_FROM_POSETRACK, HEAD_BOTTOM, HEAD_TOP, POSETRACK_FROM_COCO, POSETRACK_KEYPOINTS, coco_to_posetrack,
    posetrack_to_coco, split_video_frame_name, video_frame_name,
)
from aetrack.skeleton import JOINT_INDEX, JOINTS

SIZE = (192, 112)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Two short videos written by the library."""
    out = tmp_path_factory.mktemp("synth")
    write_dataset(out, seed=11, videos=2, frames=8, people=4, size=SIZE, camera_motion=True, blur=True)
    return out


def test_same_seed_same_frames_and_different_seed_differs():
    a = list(generate_video(5, 6, 3, SIZE, camera_motion=True))
    b = list(generate_video(5, 6, 3, SIZE, camera_motion=True))
    c = list(generate_video(6, 6, 3, SIZE, camera_motion=True))
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.image, fb.image)
        assert np.array_equal(fa.keypoints, fb.keypoints) and np.array_equal(fa.track_ids, fb.track_ids)
    assert not all(np.array_equal(fa.image, fc.image) for fa, fc in zip(a, c))


def test_same_seed_gives_byte_identical_annotations(dataset, tmp_path):
    write_dataset(tmp_path, seed=11, videos=2, frames=8, people=4, size=SIZE, camera_motion=True, blur=True)
    for rel in ("coco.json", "annotations/synth_0000.json", "annotations/synth_0001.json"):
        assert (dataset / rel).read_bytes() == (tmp_path / rel).read_bytes()


def test_frame_records_are_consistent():
    w, h = SIZE
    seen = 0
    for frame in generate_video(3, 12, 5, SIZE):
        p = len(frame)
        assert frame.image.shape == (h, w, 3) and frame.image.dtype == np.uint8
        assert frame.keypoints.shape == (p, 17, 3) and frame.head_points.shape == (p, 2, 3)
        assert frame.boxes.shape == frame.head_boxes.shape == (p, 4) and frame.areas.shape == (p,)
        assert len(set(frame.track_ids.tolist())) == p
        for kp, box in zip(frame.keypoints, frame.boxes):
            labelled = kp[:, 2] > 0
            x, y = kp[labelled, 0], kp[labelled, 1]
            assert ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).all()
            assert (kp[~labelled] == 0).all()   # PoseTrack's convention for unlabelled joints
            assert set(np.unique(kp[:, 2])) <= {0.0, 1.0, 2.0}
            assert (x >= box[0] - 1).all() and (x <= box[0] + box[2] + 1).all()
            assert (y >= box[1] - 1).all() and (y <= box[1] + box[3] + 1).all()
        seen += p
    assert seen > 0


def _standing(scene, column: float, distance: float, heading: float, seed: int) -> Walker:
    rng = np.random.default_rng(seed)
    return Walker(Build(), sample_appearance(rng), x=scene.x_at(column, distance, 0), distance=distance,
                  heading=heading)


def test_person_in_front_hides_the_one_behind():
    scene = sample_scene(np.random.default_rng(0), (320, 180), 1, 25.0)
    near, _ = scene.distance_range
    back = _standing(scene, 160, 2.5 * near, 0.0, 1)
    front = _standing(scene, 160, 1.2 * near, 0.0, 2)
    alone = render_frame(scene, [back], 0)
    assert (alone.keypoints[0, 5:, 2] == 2).all()   # shoulders to ankles visible with nobody in front
    both = render_frame(scene, [back, front], 0)
    assert both.track_ids.tolist() == [0, 1]
    hidden = both.keypoints[0, :, 2]
    torso = [JOINT_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    assert (hidden[torso] == 1).all()
    assert (both.keypoints[1, 5:, 2] == 2).all()   # the front person is not hidden
    assert both.areas[0] < alone.areas[0]


def test_face_turned_away_is_not_visible():
    scene = sample_scene(np.random.default_rng(0), (320, 180), 1, 25.0)
    near, _ = scene.distance_range
    away = render_frame(scene, [_standing(scene, 160, 1.5 * near, math.pi, 3)], 0).keypoints[0]
    toward = render_frame(scene, [_standing(scene, 160, 1.5 * near, 0.0, 3)], 0).keypoints[0]
    face = [JOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye")]
    assert (away[face, 2] == 1).all() and (toward[face, 2] == 2).all()
    # seen from the front, the person's left side is on the image's right
    assert toward[JOINT_INDEX["left_shoulder"], 0] > toward[JOINT_INDEX["right_shoulder"], 0]
    assert away[JOINT_INDEX["left_shoulder"], 0] < away[JOINT_INDEX["right_shoulder"], 0]


def test_posetrack_files_have_the_2018_layout(dataset, shared):
    track = json.loads((dataset / "annotations" / "synth_0001.json").read_text())
    sample = json.loads((shared / "data/posetrack/posetrack18_format_sample/annotations/val/009473_mpii_test.json")
                        .read_text())
    optional = {"has_no_densepose", "mask_file"}   # PoseTrack fields about its own masks and DensePose
    assert set(sample["images"][0]) - optional <= set(track["images"][0])
    assert set(sample["annotations"][0]) <= set(track["annotations"][0])
    assert track["categories"] == sample["categories"]
    assert len(track["images"]) == 8 and all(im["nframes"] == 8 and im["vid_id"] == "000001" for im in track["images"])
    ids = {im["id"] for im in track["images"]}
    for ann in track["annotations"]:
        assert ann["image_id"] in ids and len(ann["keypoints"]) == 51 and len(ann["bbox_head"]) == 4
        kp = np.array(ann["keypoints"]).reshape(17, 3)
        assert (kp[3:5] == 0).all()   # PoseTrack never labels the ears
        assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
    assert split_video_frame_name(track["images"][3]["file_name"]) == ("videos/synth_0001.mp4", 3)


def test_coco_file_loads_with_pycocotools(dataset):
    from pycocotools.coco import COCO

    coco = COCO(str(dataset / "coco.json"))
    assert len(coco.getImgIds()) == 16
    anns = coco.loadAnns(coco.getAnnIds())
    assert anns and all(len(a["keypoints"]) == 51 and a["num_keypoints"] > 0 for a in anns)
    assert {a["video"] for a in anns} <= {"synth_0000", "synth_0001"}
    assert coco.loadCats(1)[0]["keypoints"] == list(JOINTS)
    image = coco.loadImgs(anns[0]["image_id"])[0]
    assert (image["width"], image["height"]) == SIZE
    assert (dataset / split_video_frame_name(image["file_name"])[0]).is_file()


def test_decord_reads_the_videos(dataset):
    import decord

    for name in ("synth_0000", "synth_0001"):
        reader = decord.VideoReader(str(dataset / "videos" / f"{name}.mp4"))
        assert len(reader) == 8
        assert reader[0].shape == (SIZE[1], SIZE[0], 3)
    assert not list(dataset.glob("**/*.tmp")) and not list(dataset.glob("videos/.*"))   # no leftovers


@pytest.mark.parametrize("argv, message", [
    (["--size", "640by360"], "WIDTHxHEIGHT"),
    (["--size", "641x360"], "even"),
    (["--frames", "0"], "frames"),
    (["--people", "-1"], "people"),
    (["--videos", "0"], "videos"),
    (["--fps", "0"], "fps"),
    (["--name", "a/b"], "name"),
])
def test_cli_bad_arguments_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["synth", "--out", str(tmp_path / "o"), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aetrack: error:") and message in err and err.count("\n") == 1


def test_library_rejects_bad_settings(tmp_path):
    with pytest.raises(AetrackError, match="frames"):
        generate_video(0, 0, 2, SIZE)
    (tmp_path / "file").write_text("x")
    with pytest.raises(AetrackError, match="not a folder"):
        write_dataset(tmp_path / "file", seed=0, videos=1, frames=2, people=1, size=SIZE)


def test_cli_writes_a_dataset(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--seed", "2", "--frames", "3", "--people", "2",
                 "--size", "128x96", "--name", "clip"]) == 0
    assert (tmp_path / "videos/clip.mp4").is_file() and (tmp_path / "annotations/clip.json").is_file()
    assert "wrote 1 video" in capsys.readouterr().out


def test_coco_posetrack_mapping_round_trips():
    rng = np.random.default_rng(0)
    coco = rng.uniform(1, 100, (3, 17, 3)).astype(np.float32)
    track = coco_to_posetrack(coco)
    back = posetrack_to_coco(track)
    kept = [0, *range(5, 17)]   # PoseTrack has no eyes and leaves the ears empty
    assert np.array_equal(back[:, kept], coco[:, kept])
    assert (back[:, 1:5] == 0).all() and (track[:, 1:5] == 0).all()

    posetrack = rng.uniform(1, 100, (2, 17, 3)).astype(np.float32)
    posetrack[:, 3:5] = 0
    again = coco_to_posetrack(posetrack_to_coco(posetrack), posetrack[:, HEAD_BOTTOM], posetrack[:, HEAD_TOP])
    assert np.array_equal(again, posetrack)
    for slot, joint in enumerate(POSETRACK_FROM_COCO):
        if joint >= 0:
            assert POSETRACK_KEYPOINTS[slot] == JOINTS[joint] and COCO_FROM_POSETRACK[joint] == slot
    with pytest.raises(ValueError):
        coco_to_posetrack(np.zeros((14, 3)))


def test_video_frame_names():
    assert video_frame_name("videos/a.mp4", 12) == "videos/a.mp4#000012"
    assert split_video_frame_name("videos/a#b.mp4#000012") == ("videos/a#b.mp4", 12)
    with pytest.raises(AetrackError):
        split_video_frame_name("images/000012.jpg")


def test_committed_sample_matches_its_ground_truth():
    video, truth = REPO / "videos/sample.mp4", REPO / "videos/sample.posetrack.json"
    if not video.is_file():
        pytest.skip("videos/sample.mp4 not present")
    import decord

    images = json.loads(truth.read_text())["images"]
    reader = decord.VideoReader(str(video))
    assert len(reader) == len(images) == images[0]["nframes"]
    assert reader[0].shape == (images[0]["height"], images[0]["width"], 3)
