"""`aetrack bench`: FLOP counting and the command's output."""
from __future__ import annotations

import json
import subprocess
import sys

import torch

from aetrack.bench import conv_flops
from aetrack.config import Config, ModelConfig
from aetrack.model import build_model, save_checkpoint


def test_conv_flops_counts_multiply_adds_twice():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert conv_flops(conv, torch.zeros(1, 3, 10, 12)) == 2 * (3 * 9) * (8 * 10 * 12)
    paper = build_model(ModelConfig(stacks=4, extra_channels=34))
    gflop = conv_flops(paper, torch.zeros(1, 3, 512, 512)) / 1e9
    assert 430 < gflop < 460  # the paper's network: about 444 GFLOP a 512x512 frame


def test_bench_command_reports_every_stage(tmp_path):
    config = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=128))
    weights = save_checkpoint(tmp_path / "m.pt", build_model(config), config)
    r = subprocess.run([sys.executable, "-m", "aetrack.cli.main", "bench", "--weights", str(weights), "--frames", "6",
                        "--batch", "3", "--size", "160x96", "--format", "json"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out["stage_ms"]) == {"read video", "preprocess", "network", "decode people", "track", "write"}
    assert out["end_to_end_fps"] > 0 and out["gflops_per_frame"] > 0 and out["frame_size"] == [160, 96]
