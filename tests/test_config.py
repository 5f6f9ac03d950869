"""Strict YAML configs and the presets."""
from __future__ import annotations

import pytest

from aetrack.config import CONFIG_DIR, config_from_dict, config_to_dict, load_config
from aetrack.errors import AetrackError
from aetrack.model import build_model, count_parameters


def test_presets_load_and_build():
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert {"paper", "mid", "tiny"} <= set(names)
    tiny = load_config("tiny")
    assert tiny.model.input_size % 64 == 0
    assert count_parameters(build_model(tiny)) < count_parameters(build_model(load_config("mid")))


def test_paper_preset_matches_the_paper():
    m = load_config("paper").model
    assert (m.stacks, m.width, m.increase, m.input_size, m.tag_dim) == (4, 256, 128, 512, 1)


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  stacks: 2\n  widht: 32\n")
    with pytest.raises(AetrackError, match="model.widht"):
        load_config(path)


def test_wrong_types_and_values_are_errors(tmp_path):
    with pytest.raises(AetrackError, match="model.stacks"):
        config_from_dict({"model": {"stacks": "four"}})
    with pytest.raises(AetrackError, match="multiple of 64"):
        config_from_dict({"model": {"input_size": 100}})
    path = tmp_path / "bad.yaml"
    path.write_text("model: [1, 2\n")
    with pytest.raises(AetrackError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(AetrackError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_round_trip_through_plain_data():
    config = load_config("tiny")
    assert config_from_dict(config_to_dict(config)) == config


def test_a_config_overlays_only_the_keys_it_sets(tmp_path):
    """`--config` with a tracker section alone keeps the checkpoint's inference settings (it used to reset them
    to the library defaults: the bundled model's quadratic sub-pixel step silently became the quarter step)."""
    from aetrack.cli.common import run_config
    from aetrack.cli.main import build_parser

    path = tmp_path / "t.yaml"
    path.write_text("tracker:\n  min_hits: 5\n")
    parser = build_parser()
    plain = run_config(parser.parse_args(["track", "v.mp4"]))
    overlaid = run_config(parser.parse_args(["track", "v.mp4", "--config", str(path)]))
    assert plain.inference.subpixel == "quadratic"          # the bundled checkpoint's own setting
    assert overlaid.inference == plain.inference
    assert overlaid.tracker.min_hits == 5 and overlaid.tracker.max_age == plain.tracker.max_age
    path.write_text("tracker:\n  min_hits: 5\ntrain:\n  nonsense: 1\n")
    with pytest.raises(AetrackError, match="nonsense"):
        run_config(parser.parse_args(["track", "v.mp4", "--config", str(path)]))
