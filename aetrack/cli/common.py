"""Options shared by the commands that run a model (track, stream, predict, bench)."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from aetrack.config import PRECISIONS, Config, InferenceConfig, overlay_config
from aetrack.errors import AetrackError

BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "tiny_synth.pt"
BUNDLED_REFINE_WEIGHTS = BUNDLED_WEIGHTS.parent / "topdown_synth.pt"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".tar", ".ckpt", ".bin")


def add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--weights", help=f"checkpoint: aetrack's or the authors' .pth.tar (default: the bundled "
                                     f"demo model {BUNDLED_WEIGHTS.name}, trained on synthetic people)")
    g.add_argument("--config", help="YAML config or preset name: the keys its inference and tracker sections set "
                                    "replace the checkpoint's, the others stay (the network itself always comes "
                                    "from the checkpoint)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    g.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image's maps")
    g.add_argument("--scales", type=float, nargs="+", metavar="S", help="test scales, e.g. 1 0.5 1.5")
    g.add_argument("--precision", choices=PRECISIONS,
                   help="the networks' arithmetic: auto (bf16 on CUDA, fp32 on CPU), fp32, bf16 (on CPU: fast where "
                        "the CPU has bf16 instructions), fp16 (CUDA only); default: the config's (auto)")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction,
                   help="torch.compile the networks (the first frames wait for compiling; falls back to running "
                        "uncompiled where compiling fails); default: the config's (off)")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                   help="run the networks in NHWC memory layout; default: the config's (on)")


def weights_path(args: argparse.Namespace) -> Path:
    if args.weights:
        return Path(args.weights)
    if not BUNDLED_WEIGHTS.is_file():
        raise AetrackError(f"no bundled model at {BUNDLED_WEIGHTS}; pass --weights")
    return BUNDLED_WEIGHTS


def configure_cpu_threads() -> None:
    """Leave one core to video decoding and the reader thread: torch's OpenMP threads spin and slow down badly
    when they share cores (measured: 9.5 -> 37 fps for the tiny model on 2 cores). OMP_NUM_THREADS wins."""
    import os

    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


def run_config(args: argparse.Namespace) -> Config | None:
    """The settings a run uses beyond the checkpoint's own: --config, then --flip/--scales/--precision/--compile/
    --channels-last on top.
    Also sets the CPU thread policy every model-running command shares."""
    from aetrack.model.checkpoint import read_checkpoint

    configure_cpu_threads()

    base = read_checkpoint(weights_path(args)).config
    if args.config:   # its inference and tracker keys over the checkpoint's; keys it leaves out stay
        base = overlay_config(base, args.config)
    inference = base.inference
    if args.flip:
        inference = dataclasses.replace(inference, flip=True)
    if args.scales:
        inference = dataclasses.replace(inference, scales=tuple(args.scales))
    for name in ("precision", "compile", "channels_last"):
        if getattr(args, name, None) is not None:
            inference = dataclasses.replace(inference, **{name: getattr(args, name)})
    return dataclasses.replace(base, inference=inference)


def add_refine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("refinement (the paper's single-person step)")
    g.add_argument("--refine", nargs="?", const="bundled", default="auto", metavar="WEIGHTS",
                   help="run each person's crop through a single-person (top-down) network and merge its joints "
                        "with the multi-person ones (see --refine-merge): mmpose's top-down hourglass "
                        f"checkpoints or ours (no WEIGHTS: the bundled {BUNDLED_REFINE_WEIGHTS.name}); "
                        "--flip flips its crops too. Default: on with the bundled demo model (no --weights), "
                        "off with any other")
    g.add_argument("--no-refine", dest="refine", action="store_const", const=None,
                   help="no refinement, also with the bundled demo model (faster)")
    g.add_argument("--refine-decoding", choices=("default", "unbiased"), default="default",
                   help="keypoints from its heatmaps: quarter-pixel step (default) or unbiased (DARK)")
    g.add_argument("--refine-merge", choices=("auto", "average", "single"), default="auto",
                   help="each joint from: average, the paper's mean of the two predictions weighted by their "
                        "scores; single, the single-person network's; auto (default): single for the bundled "
                        "demo models (their single-person network is far more precise), average otherwise")


def refine_weights_path(args: argparse.Namespace) -> Path | None:
    """The single-person checkpoint --refine names (None without refinement); checked before torch loads.

    'auto' (no --refine/--no-refine) refines the bundled demo model's people with the bundled single-person
    model, which was trained on the same synthetic people; another model's people are left as they are."""
    refine = getattr(args, "refine", None)
    if refine == "auto":
        refine = "bundled" if not getattr(args, "weights", None) and BUNDLED_REFINE_WEIGHTS.is_file() else None
    if refine is None:
        return None
    if refine == "bundled":
        if not BUNDLED_REFINE_WEIGHTS.is_file():
            raise AetrackError(f"no bundled single-person model at {BUNDLED_REFINE_WEIGHTS}; pass --refine WEIGHTS")
        return BUNDLED_REFINE_WEIGHTS
    path = Path(args.refine)
    if not path.is_file():
        raise AetrackError(f"--refine {args.refine}: checkpoint not found")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:  # `--refine video.mp4` took the input as the weights
        raise AetrackError(f"--refine {args.refine}: not a checkpoint (give --refine after the inputs, or its "
                           "weights: --refine WEIGHTS)")
    return path


def make_refiner(args: argparse.Namespace, device: str, inference: InferenceConfig):
    """The `Refiner` the --refine options ask for, or None; its network runs as `inference` says (precision,
    layout, compilation)."""
    path = refine_weights_path(args)
    if path is None:
        return None
    from aetrack.refine import RefineConfig, Refiner

    merge = getattr(args, "refine_merge", "auto")
    if merge == "auto":
        bundled = path.resolve() == BUNDLED_REFINE_WEIGHTS.resolve() and not getattr(args, "weights", None)
        merge = "single" if bundled else "average"
    config = RefineConfig(flip=bool(getattr(args, "flip", False)), post_process=args.refine_decoding, merge=merge,
                          precision=inference.precision, channels_last=inference.channels_last,
                          compile=inference.compile)
    return Refiner.from_checkpoint(path, device, config)
