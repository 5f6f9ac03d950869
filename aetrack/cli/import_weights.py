"""`aetrack import-weights SRC DST [--config C]`: convert a reference or mmpose checkpoint into aetrack's format,
or store new default inference and tracker settings in a checkpoint (ours too)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-weights", help="convert a checkpoint of the authors' reference code or of mmpose into aetrack's format",
        description="Read a checkpoint in a supported foreign format (the authors' pose-ae-train .pth.tar, or "
                    "mmpose 0.29's HigherHRNet, Hourglass-AE or top-down hourglass .pth), infer its architecture "
                    "from the tensor shapes, check that it loads, and write it in aetrack's own format with its "
                    "config and metadata. With --config (any format in, aetrack's included) the file's inference "
                    "and tracker keys become the checkpoint's own settings, used whenever it runs.",
    )
    p.add_argument("src", help="checkpoint to convert (e.g. the reference's checkpoint.pth.tar or "
                                "higher_hrnet32_coco_512x512-8ae85183_20200713.pth)")
    p.add_argument("dst", help="output file in aetrack's format (e.g. model.pt)")
    p.add_argument("--input-size", type=int, default=None,
                   help="network input size to record in the config (multiple of 64; default 512, "
                        "256 for a top-down hourglass; e.g. 640 for HigherHRNet-W32 640)")
    p.add_argument("--config", default=None,
                   help="YAML config or preset whose inference and tracker keys replace the checkpoint's stored "
                        "ones (keys it leaves out stay); DST may be SRC")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from aetrack.config import overlay_config
    from aetrack.model import count_parameters, load_checkpoint_model, save_checkpoint

    model, ckpt = load_checkpoint_model(args.src)
    config = ckpt.config
    if args.config:
        config = overlay_config(config, args.config)
    if args.input_size is not None:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, input_size=args.input_size))
    meta = {**ckpt.meta, "imported_from": str(args.src), "imported_kind": ckpt.kind}
    if args.config:
        meta["settings_from"] = str(args.config)
    save_checkpoint(args.dst, model, config, meta)
    m = config.model
    if m.arch == "hourglass":
        sizes = f"{m.stacks} stacks, width {m.width}, increase {m.increase}/{m.inner_increase}"
    elif m.arch == "higherhrnet":
        sizes = f"width {m.width}"
    else:
        sizes = f"{m.stacks} stacks, levels {list(m.stage_channels)}"
    print(f"wrote {args.dst}: {m.arch}, {sizes}, {count_parameters(model):,} parameters, {m.out_channels} output "
          f"channels, input {m.input_size} ({ckpt.kind} format in)")
    return 0
