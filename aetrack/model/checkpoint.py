"""Checkpoint files: our own format, the authors' reference format (princeton-vl/pose-ae-train) and mmpose's.

Ours is a `torch.save` dict ``{"format": "aetrack", "version", "config", "state_dict", "meta"}``: the full
config travels with the weights. The reference's is a ``.pth.tar`` dict whose ``state_dict`` holds
``model.module.*`` names as its DataParallel trainer saved them and no configuration; mmpose 0.29's holds
``backbone.*`` / ``keypoint_head.*`` names beside its ``meta`` (an optimizer, if present, is ignored). For both,
the architecture and its sizes are inferred from tensor names and shapes. Every file is read with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import datetime
import os
import pickle
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aetrack.config import Config, ModelConfig, config_from_dict, config_to_dict, load_config
from aetrack.errors import AetrackError
from aetrack.skeleton import JOINTS

FORMAT_NAME = "aetrack"
FORMAT_VERSION = 1
REFERENCE_PREFIX = "model.module."
MMPOSE_PREFIXES = ("backbone.", "keypoint_head.")


@dataclass
class Checkpoint:
    """What a checkpoint file holds, whatever its format. `kind` is 'aetrack', 'reference' or 'mmpose'."""

    config: Config
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = FORMAT_NAME


def _read_file(path: Path) -> Any:
    if not path.exists():
        raise AetrackError(f"checkpoint {path}: file not found")
    if path.is_dir():
        raise AetrackError(f"checkpoint {path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise AetrackError(f"checkpoint {path}: file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError,
            UnicodeDecodeError, AttributeError, TypeError, IndexError, KeyError) as exc:
        text = str(exc)
        if "weights_only" in text or "Unsupported global" in text:
            reason = "it holds Python objects other than tensors and plain data, which are not loaded for safety"
        elif isinstance(exc, (EOFError, zipfile.BadZipFile)) or "central directory" in text \
                or "truncated" in text.lower() or "reading zip archive" in text:
            reason = "the file is truncated or corrupt"
        else:
            reason = "not a PyTorch checkpoint file"
        raise AetrackError(f"checkpoint {path}: not a readable PyTorch checkpoint: {reason}") from None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint of any supported format into a `Checkpoint`, inferring foreign architectures."""
    path = Path(path)
    data = _read_file(path)
    if isinstance(data, dict) and data.get("format") == FORMAT_NAME:
        return _read_ours(path, data)
    state = data.get("state_dict", data) if isinstance(data, dict) else None
    if isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
        names = list(state)
        if any(n.startswith(REFERENCE_PREFIX) for n in names) or "pre.0.conv.weight" in state:
            return _read_reference(path, state)
        if any(n.startswith(MMPOSE_PREFIXES) for n in names):
            return _read_mmpose(path, state, data.get("meta") if isinstance(data, dict) else None)
        raise AetrackError(f"checkpoint {path}: unrecognised tensor names (first: {names[0]}); expected "
                           f"an aetrack checkpoint, the reference's model.module.* or mmpose's backbone.* layout")
    raise AetrackError(f"checkpoint {path}: not a model checkpoint (found {type(data).__name__} without "
                       "a state_dict of tensors)")


def _read_ours(path: Path, data: dict) -> Checkpoint:
    version = data.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise AetrackError(f"checkpoint {path}: format version {version!r} is newer than this aetrack "
                           f"reads ({FORMAT_VERSION}); upgrade aetrack")
    state = data.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AetrackError(f"checkpoint {path}: missing or malformed 'state_dict'")
    try:
        config = config_from_dict(data.get("config"))
    except AetrackError as exc:
        raise AetrackError(f"checkpoint {path}: bad stored config: {exc}") from None
    return Checkpoint(config, state, dict(data.get("meta") or {}), FORMAT_NAME)


def _shape(state: dict[str, torch.Tensor], name: str, path: Path) -> tuple[int, ...]:
    if name not in state:
        raise AetrackError(f"checkpoint {path}: reference layout without tensor '{REFERENCE_PREFIX}{name}'")
    return tuple(state[name].shape)


def infer_reference_config(state: dict[str, torch.Tensor], path: Path = Path("?")) -> ModelConfig:
    """The `ModelConfig` of a reference state dict (prefix already stripped), from its tensor shapes."""
    stacks = len({m.group(1) for n in state if (m := re.match(r"outs\.(\d+)\.", n))})
    if stacks == 0:
        raise AetrackError(f"checkpoint {path}: reference layout without any 'outs.*' prediction layer")
    width = _shape(state, "pre.4.conv.weight", path)[0]
    out_channels = _shape(state, "outs.0.conv.weight", path)[0]
    level = "features.0.0."
    depth = 0
    while f"{level}low1.conv.weight" in state:
        depth += 1
        level += "low2."
    if depth == 0:
        raise AetrackError(f"checkpoint {path}: reference layout without hourglass layers (features.0.0.*)")
    outer = _shape(state, "features.0.0.low1.conv.weight", path)[0]
    inner = (_shape(state, "features.0.0.low2.low1.conv.weight", path)[0] - outer) if depth > 1 else 128
    joints = 17
    if out_channels < 2 * joints:
        raise AetrackError(f"checkpoint {path}: {out_channels} output channels cannot hold 17 heatmaps and 17 tags")
    stem = (_shape(state, "pre.0.conv.weight", path)[0], _shape(state, "pre.1.conv.weight", path)[0])
    return ModelConfig(
        stacks=stacks, stem=stem, width=width, increase=outer - width, inner_increase=inner, depth=depth,
        batch_norm=any(".bn." in n for n in state), joints=joints, tag_dim=1,
        extra_channels=out_channels - 2 * joints, input_size=512,
    )


def _read_reference(path: Path, state: dict[str, torch.Tensor]) -> Checkpoint:
    state = {n[len(REFERENCE_PREFIX):] if n.startswith(REFERENCE_PREFIX) else n: t for n, t in state.items()}
    config = Config(model=infer_reference_config(state, path))
    meta = {"joints": list(JOINTS), "channel_order": "RGB", "source": "princeton-vl/pose-ae-train",
            "input_range": "[0, 1]"}
    return Checkpoint(config, state, meta, "reference")


def _count(state: dict[str, torch.Tensor], prefix: str) -> int:
    """How many numbered children ``prefix<N>.`` the state dict has."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({m.group(1) for n in state if (m := pattern.match(n))})


def _mmpose_shape(state: dict[str, torch.Tensor], name: str, path: Path, arch: str) -> tuple[int, ...]:
    if name not in state:
        raise AetrackError(f"checkpoint {path}: mmpose {arch} layout without tensor '{name}'")
    return tuple(state[name].shape)


def infer_mmpose_config(state: dict[str, torch.Tensor], path: Path = Path("?")) -> ModelConfig:
    """The `ModelConfig` of an mmpose 0.29 state dict (HigherHRNet, Hourglass-AE or top-down hourglass), from
    its tensor names and shapes. The input size is not in the weights: 512 bottom-up, 256 top-down."""
    if any(n.startswith(("backbone.layer1.", "backbone.stage2.")) for n in state):
        return _infer_higherhrnet(state, path)
    if "backbone.hourglass_modules.0.0.up1.conv.weight" in state:
        return _infer_hourglass_ae(state, path)
    if "backbone.hourglass_modules.0.up1.0.conv1.weight" in state:
        return _infer_topdown_hourglass(state, path)
    raise AetrackError(f"checkpoint {path}: an mmpose network aetrack does not build (first tensor: "
                       f"{next(iter(state))}); it loads mmpose's HigherHRNet, Hourglass-AE and top-down hourglass")


def _mmpose_config(path: Path, **fields: Any) -> ModelConfig:
    try:
        return ModelConfig(**fields)
    except AetrackError as exc:
        raise AetrackError(f"checkpoint {path}: inconsistent mmpose {fields['arch']} tensors: {exc}") from None


def _check_joints(joints: int, path: Path) -> None:
    if joints != len(JOINTS):
        raise AetrackError(f"checkpoint {path}: {joints} heatmaps; aetrack handles the {len(JOINTS)} COCO joints")


def _infer_higherhrnet(state: dict[str, torch.Tensor], path: Path) -> ModelConfig:
    def shape(name: str) -> tuple[int, ...]:
        return _mmpose_shape(state, name, path, "higherhrnet")
    deconvs = _count(state, "keypoint_head.deconv_layers.")
    if deconvs != 1 or _count(state, "keypoint_head.final_layers.") != 2:
        raise AetrackError(f"checkpoint {path}: HigherHRNet head with {deconvs} deconvolution branches; "
                           "aetrack builds the released one (one branch to stride 2)")
    out_channels = shape("keypoint_head.final_layers.0.weight")[0]
    joints = shape("keypoint_head.final_layers.1.weight")[0]
    _check_joints(joints, path)
    if out_channels < 2 * joints:
        raise AetrackError(f"checkpoint {path}: {out_channels} stride-4 channels cannot hold {joints} heatmaps "
                           f"and {joints} tags")
    blocks = [_count(state, "backbone.layer1.")] + [_count(state, f"backbone.stage{s}.0.branches.0.")
                                                    for s in (2, 3, 4)]
    return _mmpose_config(
        path, arch="higherhrnet", width=shape("backbone.stage2.0.branches.0.0.conv1.weight")[0],
        stage1_channels=shape("backbone.layer1.0.conv1.weight")[0], stage_blocks=tuple(blocks),
        stage_modules=tuple(_count(state, f"backbone.stage{s}.") for s in (2, 3, 4)),
        head_blocks=_count(state, "keypoint_head.deconv_layers.0.") - 1, joints=joints, tag_dim=1,
        extra_channels=out_channels - 2 * joints, input_size=512,
    )


def _infer_hourglass_ae(state: dict[str, torch.Tensor], path: Path) -> ModelConfig:
    def shape(name: str) -> tuple[int, ...]:
        return _mmpose_shape(state, name, path, "mmpose-hourglass-ae")
    level = "backbone.hourglass_modules.0.0."
    channels = []
    while f"{level}low1.conv.weight" in state:
        channels.append(shape(f"{level}up1.conv.weight")[0])
        inner = shape(f"{level}low1.conv.weight")[0]
        level += "low2."
    if not channels:
        raise AetrackError(f"checkpoint {path}: mmpose mmpose-hourglass-ae layout without hourglass levels "
                           "(backbone.hourglass_modules.0.0.low1.*)")
    channels.append(inner)
    out_channels = shape("backbone.out_convs.0.conv.weight")[0]
    joints = len(JOINTS)  # the output holds J heatmaps then J tags; J is not in the shapes
    if out_channels < 2 * joints:
        raise AetrackError(f"checkpoint {path}: {out_channels} output channels cannot hold {joints} heatmaps "
                           f"and {joints} tags")
    return _mmpose_config(
        path, arch="mmpose-hourglass-ae", stacks=_count(state, "backbone.out_convs."),
        stem=(shape("backbone.stem.0.conv.weight")[0], shape("backbone.stem.1.conv.weight")[0]),
        width=shape("backbone.stem.4.conv.weight")[0], depth=len(channels) - 1, stage_channels=tuple(channels),
        joints=joints, tag_dim=1, extra_channels=out_channels - 2 * joints, input_size=512,
    )


def _infer_topdown_hourglass(state: dict[str, torch.Tensor], path: Path) -> ModelConfig:
    def shape(name: str) -> tuple[int, ...]:
        return _mmpose_shape(state, name, path, "topdown-hourglass")
    level = "backbone.hourglass_modules.0."
    channels, blocks = [], []
    while f"{level}low1.0.conv1.weight" in state:
        channels.append(shape(f"{level}up1.0.conv1.weight")[0])
        blocks.append(_count(state, f"{level}up1."))
        level += "low2."
    if not channels:
        raise AetrackError(f"checkpoint {path}: mmpose topdown-hourglass layout without hourglass levels "
                           "(backbone.hourglass_modules.0.low1.*)")
    channels.append(shape(f"{level}0.conv1.weight")[0])  # the innermost level is a plain residual layer
    blocks.append(_count(state, level))
    joints = shape("keypoint_head.multi_final_layers.0.weight")[0]
    _check_joints(joints, path)
    return _mmpose_config(
        path, arch="topdown-hourglass", stacks=_count(state, "backbone.hourglass_modules."),
        stem=(shape("backbone.stem.0.conv.weight")[0], shape("backbone.stem.1.0.conv1.weight")[0]),
        width=shape("backbone.out_convs.0.conv.weight")[0], depth=len(channels) - 1,
        stage_channels=tuple(channels), stage_blocks=tuple(blocks), joints=joints, input_size=256,
    )


# bottom-up mmpose networks run with the test settings of the preset of their family (mmpose's exact path)
MMPOSE_INFERENCE_PRESETS = {"mmpose-hourglass-ae": "mmpose_hourglass_ae_512", "higherhrnet": "higherhrnet_w32_512"}


def _read_mmpose(path: Path, state: dict[str, torch.Tensor], file_meta: Any) -> Checkpoint:
    model = infer_mmpose_config(state, path)
    preset = MMPOSE_INFERENCE_PRESETS.get(model.arch)
    config = Config(model=model, inference=load_config(preset).inference) if preset else Config(model=model)
    meta = {"joints": list(JOINTS), "channel_order": "RGB", "source": f"mmpose ({config.model.arch})",
            "input_range": "ImageNet mean/std normalised RGB",
            "mmpose_meta": file_meta if isinstance(file_meta, dict) else {}}
    return Checkpoint(config, state, meta, "mmpose")


def check_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path | str) -> None:
    """Raise one clear line naming missing, unexpected and mismatched tensors, if any."""
    expected = model.state_dict()
    missing = [n for n in expected if n not in state]
    unexpected = [n for n in state if n not in expected]
    mismatched = [f"{n} {tuple(state[n].shape)} vs {tuple(t.shape)}"
                  for n, t in expected.items() if n in state and state[n].shape != t.shape]
    if missing or unexpected or mismatched:
        def head(items: list[str]) -> str:
            return ", ".join(items[:4]) + (f" (+{len(items) - 4} more)" if len(items) > 4 else "")
        parts = [f"{label} {len(items)}: {head(items)}" for label, items in
                 (("missing", missing), ("unexpected", unexpected), ("mismatched (file vs model)", mismatched))
                 if items]
        raise AetrackError(f"checkpoint {path} does not fit the model: " + "; ".join(parts))


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: Config,
                    meta: dict[str, Any] | None = None) -> Path:
    """Write our format atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    meta = {"joints": list(JOINTS), "channel_order": config.inference.channel_order,
            "input_range": "[0, 1]" if config.model.input_norm == "unit" else "ImageNet mean/std normalised RGB",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            **(meta or {})}
    payload = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "config": config_to_dict(config),
               "state_dict": {n: t.detach().cpu() for n, t in model.state_dict().items()}, "meta": meta}
    atomic_torch_save(payload, path)
    return path


def atomic_torch_save(payload: Any, path: Path) -> None:
    """`torch.save` to a temporary sibling then `os.replace`, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
