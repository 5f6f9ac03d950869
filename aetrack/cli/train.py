"""`aetrack train --config X.yaml [--resume]`: train a model (also under torchrun, one process per GPU)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model on synthetic, COCO or PoseTrack data",
        description="Train an associative-embedding model with the settings of a config file (model, "
                    "train sections). Checkpoints go to train.out (last.pt, written atomically); --resume "
                    "continues from there. Launch with torchrun for several GPUs or machines.",
    )
    p.add_argument("--config", required=True, help="YAML config file or preset name (e.g. tiny)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--out", help="output folder (overrides train.out)")
    p.add_argument("--iterations", type=int, help="stop after this many iterations (overrides train.iterations)")
    p.add_argument("--init", "--weights", dest="init", metavar="CHECKPOINT",
                   help="start from these weights (fine-tuning): aetrack's, the authors' or a downloaded mmpose "
                        "checkpoint; a network other than the config's replaces it, at the config's input size")
    p.add_argument("--lr", type=float, help="constant learning rate (overrides train.lr and the drop)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--workers", type=int, help="data loading processes (overrides train.workers)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from aetrack.config import load_config
    from aetrack.train.trainer import Trainer

    config = load_config(args.config)
    overrides = {k: v for k, v in (("out", args.out), ("iterations", args.iterations), ("workers", args.workers),
                                   ("lr", args.lr), ("lr_after_drop", args.lr)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, **overrides))
    trainer = Trainer(config, resume=args.resume, init_weights=args.init, device=args.device)
    path = trainer.fit()
    print(f"saved {path} at iteration {trainer.iteration}")
    return 0
