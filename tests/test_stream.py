"""`aetrack stream` on a live MJPEG-over-HTTP stream served on loopback by the test, as a real subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aetrack.config import Config, InferenceConfig, ModelConfig
from aetrack.model import build_model, save_checkpoint
from helpers_stream import MjpegServer

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # a tiny model runs slower on threads that wait for each other
TINY = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=64),
              inference=InferenceConfig(refine=False, max_people=5))


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", build_model(TINY), TINY)


def stream_command(url: str, out: Path, weights: Path, *extra: object) -> list[str]:
    return [sys.executable, "-m", "aetrack.cli.main", "stream", "--source", url, "--out", str(out),
            "--weights", str(weights), "--quiet", *map(str, extra)]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_stream_tracks_max_frames_of_a_live_stream(tmp_path: Path, weights: Path) -> None:
    server = MjpegServer(range(60), interval=0.01)
    run = subprocess.run(stream_command(server.url, tmp_path, weights, "--max-frames", 12, "--no-realtime"),
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=ENV)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    name = f"127.0.0.1_{server.port}_stream.mjpg"
    assert run.stdout.split() == [str(tmp_path / f"{name}.jsonl"), str(tmp_path / f"{name}.posetrack.json")]
    lines = records(tmp_path / f"{name}.jsonl")
    assert [r["frame"] for r in lines] == list(range(12))
    assert all(b["time"] >= a["time"] for a, b in zip(lines, lines[1:]))  # seconds since the stream opened
    assert len(json.loads((tmp_path / f"{name}.posetrack.json").read_text())["images"]) == 12
    assert run.stderr.startswith(f"{name}: 12 frames")


def test_ctrl_c_stops_a_live_stream_with_valid_outputs(tmp_path: Path, weights: Path) -> None:
    server = MjpegServer(range(3000), interval=0.01)  # 30 s of stream: it is still live when stopped
    proc = subprocess.Popen(stream_command(server.url, tmp_path, weights), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    jsonl = tmp_path / f"127.0.0.1_{server.port}_stream.mjpg.jsonl"
    deadline = time.monotonic() + 60
    while not (jsonl.is_file() and jsonl.read_text().count("\n") >= 3):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert "stopped by SIGINT; results so far written" in stderr
    done = [r["frame"] for r in records(jsonl)]
    images = json.loads(jsonl.with_name(jsonl.name.replace(".jsonl", ".posetrack.json")).read_text())["images"]
    assert len(done) >= 3 and len(images) == len(done)
    server.stop()
