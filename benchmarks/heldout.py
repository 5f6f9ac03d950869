"""The bundled model end to end on freshly generated synthetic sets: the README's held-out table in one command.

For each seed: `aetrack synth` a set, `aetrack track` its videos (with any extra track options), then
`aetrack eval track` and `aetrack eval coco` on the same files, all through the command line as a user runs
them. Prints per-frame COCO AP, PoseTrack mAP, MOTA and IDF1 per seed.

    python benchmarks/heldout.py [--seeds 20261125 777 31337 1234] [--videos 3] [--frames 100] [--people 5]
        [--size 640x360] [--work DIR] [--format table|json] [-- TRACK OPTIONS...]

e.g. `python benchmarks/heldout.py --seeds 20261125 -- --no-refine`. Sets already in `--work` are reused.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CLI = [sys.executable, "-m", "aetrack.cli.main"]


def aetrack(*args: str) -> str:
    """Run an aetrack command; its stdout, or exit with its one-line error."""
    result = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"aetrack {' '.join(args)} failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


def measure(seed: int, args: argparse.Namespace, track_options: list[str], work: Path) -> dict[str, float]:
    """Generate (or reuse) the set of `seed`, track it and evaluate the tracked files."""
    data = work / f"synth_{seed}_{args.videos}x{args.frames}_{args.people}p_{args.size}"
    if not (data / "annotations").is_dir():
        aetrack("synth", "--out", str(data), "--seed", str(seed), "--videos", str(args.videos), "--frames",
                str(args.frames), "--people", str(args.people), "--size", args.size)
    pred = work / f"pred_{seed}"
    aetrack("track", str(data / "videos"), "--out", str(pred), "--quiet", *track_options)
    tracking = json.loads(aetrack("eval", "track", "--gt", str(data / "annotations"), "--pred", str(pred),
                                  "--format", "json"))
    coco = json.loads(aetrack("eval", "coco", "--gt", str(data / "annotations"), "--pred", str(pred),
                              "--format", "json"))
    return {"seed": seed, "AP": coco["AP"], "mAP": tracking["mAP"], "MOTA": tracking["MOTA"],
            "IDF1": tracking["IDF1"], "joint_switches": tracking["num_switches"]}


def main() -> None:
    argv = sys.argv[1:]
    track_options = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[20261125, 777, 31337, 1234])
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--work", type=Path, default=None, help="folder for the sets and results (default: temporary)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="aetrack_heldout_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = [measure(seed, args, track_options, work) for seed in args.seeds]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return
    print(f"track options: {' '.join(track_options) or '(defaults)'}")
    print("| seed | per-frame COCO AP | mAP | MOTA | IDF1 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['AP']:.3f} | {r['mAP']:.1f} | {r['MOTA']:.1f} | {r['IDF1']:.1f} |")


if __name__ == "__main__":
    main()
