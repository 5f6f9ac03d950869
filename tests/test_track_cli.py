"""`aetrack track` as a user runs it: bad inputs, odd frames, Ctrl-C and SIGTERM, --resume, real videos.

Every run is a real subprocess on files made here, with a tiny random model; the runs of the bad-input table
start together, as most of their time is Python and torch starting up.
"""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aetrack.config import Config, InferenceConfig, ModelConfig
from aetrack.errors import AetrackError
from aetrack.inference.predictor import Predictor
from aetrack.io.video import open_source
from aetrack.model import build_model, save_checkpoint
from aetrack.pipeline import PoseTracker, track_source
from helpers_oracle import OraclePredictor

TINY = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=64),
              inference=InferenceConfig(refine=False, max_people=5))


# one thread: a tiny model gains nothing from more, and threads that wait for each other on a busy machine
# make every convolution slow
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def aetrack(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aetrack.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=ENV)


def write_video(path: Path, frames: int, size: tuple[int, int], fourcc: str = "MJPG", color: bool = True) -> Path:
    """A video of moving bars, (width, height) `size`; grayscale frames when not `color`."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (w, h), color)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for i in range(frames):
        image = np.full((h, w, 3), 40, np.uint8)
        image[:, (3 * i) % w:(3 * i) % w + max(2, w // 8)] = (20, 200, 240)
        writer.write(image if color else image[..., 1])
    writer.release()
    return path


def rotate_mp4(path: Path, out: Path) -> Path:
    """A copy of an MP4 whose track header says 'turn 90 degrees to display', as phones record portrait video."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    # tkhd: type, version + flags, times and ids (20 or 32 bytes), reserved 8, layer, group, volume, reserved 2
    matrix = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    out.write_bytes(bytes(data))
    return out


def jsonl_frames(path: Path) -> list[int]:
    return [json.loads(line)["frame"] for line in path.read_text().splitlines()]


def posetrack_frames(path: Path) -> list[int]:
    return [int(im["file_name"].rpartition("#")[2]) for im in json.loads(path.read_text())["images"]]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", build_model(TINY), TINY)


# ---- bad input: one line naming the problem, exit 1, no traceback ---------------------------------------------

# name -> (the run that shows it, its exit code, what its stderr must say); the video files that cannot be
# read at all share one run of several inputs, which reports each on its own line and goes on to the next
BAD = {
    "missing file": ("missing", 1, "nope.mp4: no such file or folder"),
    "empty file": ("videos", 1, "empty.mp4 is empty (0 bytes)"),
    "text file": ("videos", 1, "text.mp4: not a video"),
    "noise file": ("videos", 1, "noise.avi: not a video"),
    "mp4 cut short": ("videos", 1, "cut.mp4: an MP4 file without its complete index (moov box)"),
    "unknown codec": ("videos", 1, "codec.avi: an AVI file whose video FFmpeg cannot decode (unknown codec 'QQQQ'"),
    "weights not a checkpoint": ("text weights", 1, "text.mp4: not a readable PyTorch checkpoint"),
    "missing weights": ("missing weights", 1, "nope.pt: file not found"),
    "bad config": ("bad config", 1, "config.yaml is not valid YAML"),
    "output is a file": ("output file", 1, "text.mp4 is a file, not a folder"),
    "output under a file": ("output under file", 1, "Not a directory"),
    "output read-only": ("output read-only", 1, "is not writable"),
    "no such camera": ("camera", 1, "camera 57 cannot be opened"),
    "unreachable url": ("url", 1, "cannot open stream rtsp://127.0.0.1:9/none"),
    # a truncated AVI keeps its frames up to the cut: the run succeeds and warns of what it lost
    "avi cut short": ("cut avi", 0, "cut.avi: stopped at frame"),
}


def bad_runs_args(folder: Path, weights: Path) -> dict[str, list[object]]:
    """The runs of the BAD table, on files made in `folder`."""
    good = write_video(folder / "good.avi", 6, (64, 48))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video at all\n")
    (folder / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    mp4 = write_video(folder / "whole.mp4", 10, (64, 48), "mp4v").read_bytes()  # its index (moov) comes last
    (folder / "cut.mp4").write_bytes(mp4[:len(mp4) * 6 // 10])
    avi = write_video(folder / "long.avi", 30, (64, 48)).read_bytes()
    (folder / "cut.avi").write_bytes(avi[:len(avi) * 6 // 10])
    (folder / "codec.avi").write_bytes(good.read_bytes().replace(b"MJPG", b"QQQQ"))  # no decoder for QQQQ
    (folder / "config.yaml").write_text("model: [unclosed\n")
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o500)
    w = ["--weights", weights, "--quiet", "--out", folder / "out"]
    videos = [folder / n for n in ("empty.mp4", "text.mp4", "noise.avi", "cut.mp4", "codec.avi")]
    return {
        "missing": ["track", folder / "nope.mp4", *w],
        "videos": ["track", *videos, *w],
        "text weights": ["track", good, "--weights", folder / "text.mp4", "--out", folder / "out"],
        "missing weights": ["track", good, "--weights", folder / "nope.pt"],
        "bad config": ["track", good, "--config", folder / "config.yaml", *w],
        "output file": ["track", good, *w, "--out", folder / "text.mp4"],
        "output under file": ["track", good, *w, "--out", folder / "text.mp4" / "o"],
        "output read-only": ["track", good, *w, "--out", folder / "ro" / "o"],
        "camera": ["stream", "--source", "57", *w],
        "url": ["stream", "--source", "rtsp://127.0.0.1:9/none", *w],
        "cut avi": ["track", folder / "cut.avi", *w],
    }


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory: pytest.TempPathFactory, weights: Path) -> dict[str, subprocess.CompletedProcess]:
    runs = bad_runs_args(tmp_path_factory.mktemp("bad"), weights)
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(aetrack, *args) for name, args in runs.items()}
    return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_gives_a_one_line_message(bad_runs: dict[str, subprocess.CompletedProcess], name: str) -> None:
    key, code, gist = BAD[name]
    if key == "output read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    run = bad_runs[key]
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    kind = "error" if code else "warning"
    assert sum(f"aetrack: {kind}: " in ln and gist in ln for ln in lines) == 1, run.stderr
    if key != "videos":
        assert len([ln for ln in lines if ln.startswith("aetrack: ")]) == 1, run.stderr
    else:
        assert len(lines) == 5, run.stderr  # one line for each input


def test_truncated_avi_keeps_the_frames_before_the_cut(bad_runs: dict[str, subprocess.CompletedProcess]) -> None:
    run = bad_runs["cut avi"]
    jsonl = Path(run.stdout.splitlines()[0])
    kept = jsonl_frames(jsonl)
    assert 5 < len(kept) < 30 and kept == list(range(len(kept)))
    assert f"stopped at frame {len(kept)} of 30" in run.stderr
    assert posetrack_frames(jsonl.with_name("cut.posetrack.json")) == kept


# ---- odd frames: grayscale, tiny, huge, rotated ---------------------------------------------------------------

def test_odd_frames_are_tracked(tmp_path: Path, weights: Path) -> None:
    gray = write_video(tmp_path / "gray.avi", 4, (64, 48), color=False)
    tiny = write_video(tmp_path / "tiny.avi", 4, (16, 16))
    rotated = rotate_mp4(write_video(tmp_path / "wide.mp4", 4, (64, 32), "mp4v"), tmp_path / "rotated.mp4")
    huge = tmp_path / "huge"
    huge.mkdir()
    cv2.imwrite(str(huge / "0.jpg"), np.full((3000, 4000, 3), 60, np.uint8))
    gray_png = tmp_path / "gray_png"
    gray_png.mkdir()
    for i in range(3):
        cv2.imwrite(str(gray_png / f"{i}.png"), np.full((40, 30), 80 * i, np.uint16) * 256)  # 16-bit grayscale
    with open_source(rotated) as source:
        assert source.size == (32, 64) and next(source).image.shape == (64, 32, 3)  # as players show it
    run = aetrack("track", gray, tiny, rotated, huge, gray_png, "--weights", weights, "--out", tmp_path / "o",
                  "--quiet", "--render", "--max-frames", 3)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    for name, frames in [("gray", 3), ("tiny", 3), ("rotated", 3), ("huge", 1), ("gray_png", 3)]:
        assert jsonl_frames(tmp_path / "o" / f"{name}.jsonl") == list(range(frames)), name
        assert posetrack_frames(tmp_path / "o" / f"{name}.posetrack.json") == list(range(frames)), name
    capture = cv2.VideoCapture(str(tmp_path / "o" / "rotated.render.mp4"))
    assert capture.read()[1].shape == (64, 32, 3)
    capture.release()


# ---- stopping and resuming ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_and_resume_finishes(tmp_path: Path, weights: Path, sig: int, code: int) -> None:
    frames = 80
    video = write_video(tmp_path / "long.avi", frames, (160, 120))
    out = tmp_path / "o"
    jsonl, posetrack = out / "long.jsonl", out / "long.posetrack.json"
    args = [sys.executable, "-m", "aetrack.cli.main", "track", video, "--weights", weights, "--out", out,
            "--batch", 2, "--quiet"]
    proc = subprocess.Popen(list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while not (jsonl.is_file() and jsonl.read_text().count("\n") >= 3):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.01)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code and "Traceback" not in stderr, stderr
    assert f"stopped by {signal.Signals(sig).name}" in stderr
    done = jsonl_frames(jsonl)
    assert 3 <= len(done) < frames and done == list(range(len(done)))
    assert posetrack_frames(posetrack) == done  # the same frames in both files

    run = aetrack(*args[3:], "--resume")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert f"resumed after frame {done[-1]}" in run.stderr
    assert jsonl_frames(jsonl) == list(range(frames)) == posetrack_frames(posetrack)


def test_resume_keeps_track_ids(tmp_path: Path) -> None:
    from aetrack.data.synth import write_dataset

    write_dataset(tmp_path / "synth", seed=3, videos=1, frames=60, people=3, size=(256, 160))
    coco = json.loads((tmp_path / "synth" / "coco.json").read_text())
    video = next((tmp_path / "synth" / "videos").glob("*.mp4"))
    config = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=256),
                    inference=InferenceConfig(refine=False))

    oracle = OraclePredictor(video, coco, config)

    def run(out: Path, **kw) -> list[dict]:
        track_source(str(video), out, PoseTracker(oracle), batch=4, progress=False, **kw)
        return [json.loads(line) for line in (out / f"{video.stem}.jsonl").read_text().splitlines()]

    whole = run(tmp_path / "whole")
    assert len({p["track_id"] for r in whole for p in r["people"]}) >= 3
    # what an interrupted run leaves, with a line cut short; more frames than the resumed run replays
    first = run(tmp_path / "parts", max_frames=45)
    with (tmp_path / "parts" / f"{video.stem}.jsonl").open("a") as f:
        f.write('{"frame": 45, "time": 1.5, "peo')
    resumed = run(tmp_path / "parts", resume=True)
    assert resumed[:45] == first and [r["frame"] for r in resumed] == list(range(60))
    assert [[p["track_id"] for p in r["people"]] for r in resumed] == [[p["track_id"] for p in r["people"]]
                                                                       for r in whole]


# ---- the videos users bring ------------------------------------------------------------------------------------

def test_real_videos_are_tracked(shared: Path, tmp_path: Path, weights: Path) -> None:
    videos = sorted(p for p in (shared / "data" / "videos").glob("*") if p.is_file())
    if not videos:
        pytest.skip("no videos in shared/data/videos")
    run = aetrack("track", *videos, "--weights", weights, "--out", tmp_path, "--quiet", "--max-frames", 8,
                  timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        expected = min(8, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        capture.release()
        assert len(jsonl_frames(tmp_path / f"{video.stem}.jsonl")) == expected, video.name


# ---- the library pieces under the commands ---------------------------------------------------------------------

def test_grayscale_and_bgra_frames_are_tracked_as_bgr() -> None:
    from aetrack.io.sources import Frame
    from aetrack.pipeline import as_bgr

    gray = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    assert np.array_equal(as_bgr(gray), np.repeat(gray[..., None], 3, 2))
    assert np.array_equal(as_bgr(gray[..., None]), as_bgr(gray))
    assert as_bgr(np.zeros((12, 16, 4), np.uint8)).shape == (12, 16, 3)
    assert as_bgr((gray.astype(np.uint16) * 256)).dtype == np.uint8
    with pytest.raises(AetrackError, match="8-bit"):
        as_bgr(np.zeros((12, 16, 3), np.float32))
    tracker = PoseTracker(Predictor(build_model(TINY), TINY))
    results = tracker.process([Frame(0, 0.0, gray), Frame(1, 0.1, gray[..., None])])
    assert [r.index for r in results] == [0, 1]


def test_network_batches_hold_one_size_and_bounded_pixels(monkeypatch) -> None:
    from aetrack import pipeline

    monkeypatch.setattr(pipeline, "MAX_BATCH_PIXELS", 3 * 100 * 100)
    images = [np.zeros(shape, np.uint8) for shape in [(100, 100, 3)] * 4 + [(10, 10, 3)] * 2 + [(400, 400, 3)] * 2]
    assert pipeline._network_batches(images) == [[0, 1, 2], [3], [4, 5], [6], [7]]


def test_a_signal_inside_hold_waits_for_its_end() -> None:
    from aetrack.pipeline import StopSignals, Stopped

    done = []
    with pytest.raises(Stopped) as caught:
        with StopSignals() as stop:
            with stop.hold():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler has run by now, and only noted the signal
                done.append("written")
            done.append("not reached")
    assert done == ["written"] and caught.value.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone with the block


def test_a_downloaded_mmpose_checkpoint_tracks_the_sample_video(shared: Path, tmp_path: Path) -> None:
    """The path a user takes with a file from mmpose's model zoo: --weights picks mmpose's exact test settings
    (resize-align, flip, maps at input size, mmpose grouping) and the whole pipeline runs on it."""
    from aetrack.model.checkpoint import read_checkpoint

    weights = shared / "fixtures" / "mmpose_ae_reference" / "higherhrnet_small.pth"
    inference = read_checkpoint(weights).config.inference
    assert (inference.resize, inference.grouping, inference.flip) == ("align", "mmpose", True)
    video = Path(__file__).resolve().parents[1] / "videos" / "sample.mp4"
    run = aetrack("track", "--weights", weights, video, "--out", tmp_path, "--max-frames", "2", "--quiet",
                  timeout=600)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert jsonl_frames(tmp_path / "sample.jsonl") == [0, 1]
    assert posetrack_frames(tmp_path / "sample.posetrack.json") == [0, 1]
