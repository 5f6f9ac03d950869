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


TINY = Config(model=ModelConfig(stacks=1, stem=(8, 8), width=8, increase=4, input_size=128))


def _bench(tmp_path, *options: str) -> subprocess.CompletedProcess:
    weights = save_checkpoint(tmp_path / "m.pt", build_model(TINY), TINY)
    return subprocess.run([sys.executable, "-m", "aetrack.cli.main", "bench", "--weights", str(weights),
                           "--size", "160x96", *options], capture_output=True, text=True, timeout=300)


def test_bench_command_reports_every_stage(tmp_path):
    r = _bench(tmp_path, "--frames", "6", "--batch", "3", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert list(out["stage_ms"]) == ["read video", "preprocess", "network", "decode people", "track", "write"]
    assert out["end_to_end_fps"] > 0 and out["gflops_per_frame"] > 0 and out["frame_size"] == [160, 96]
    assert out["input_hw"] == [[128, 128]] and out["scales"] == [1.0] and out["flip"] is False
    assert out["precision"] == "fp32"  # auto on a CPU: the peak is an fp32 matmul's
    bf16 = _bench(tmp_path, "--frames", "2", "--batch", "2", "--precision", "bf16")
    assert bf16.returncode == 0, bf16.stderr
    assert "of the measured bf16 matmul peak" in bf16.stdout  # compared with the arithmetic it runs in


def test_bench_stages_follow_the_scales_and_refine(tmp_path):
    """The stages run at the test scales (a 160x96 frame at 128 x 1.5 is a 192x128 input, at 1: 128x128), twice
    the network's work under flip test, and --refine adds the refinement stage."""
    refine = Config(model=ModelConfig(arch="topdown-hourglass", stacks=1, stem=(8, 16), width=8, depth=3,
                                      stage_channels=(16, 8, 8, 8), stage_blocks=(1, 1, 1, 1), input_size=64))
    refine_weights = save_checkpoint(tmp_path / "refine.pt", build_model(refine), refine)
    r = _bench(tmp_path, "--frames", "2", "--batch", "2", "--format", "json", "--scales", "1.5",
               "--refine", str(refine_weights))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["input_hw"] == [[128, 192]] and out["scales"] == [1.5]
    assert list(out["stage_ms"]) == ["read video", "preprocess", "network", "decode people", "refine", "track",
                                     "write"]
    assert out["stage_ms"]["refine"] > 0
    gflops = conv_flops(build_model(TINY), torch.zeros(1, 3, 128, 128)) / 1e9  # at scale 1
    assert abs(out["gflops_per_frame"] / gflops - 1.5) < 1e-6  # 1.5 times the pixels
    both = _bench(tmp_path, "--frames", "2", "--batch", "2", "--scales", "1", "1.5", "--flip")
    assert both.returncode == 0, both.stderr
    assert "network inputs 128x128, 192x128 (scales 1, 1.5, flip)" in both.stdout
    assert abs(float(both.stdout.split(" GFLOP/frame")[0].split()[-1]) - 2 * 2.5 * gflops) < 0.006
