"""`aetrack` entry point: builds the parser from the command modules and turns user errors into one line."""
from __future__ import annotations

import argparse
import importlib
import sys

from aetrack import __version__
from aetrack.errors import AetrackError

# command name -> module defining `add_parser(subparsers)` and `run(args) -> int`
COMMANDS: dict[str, str] = {
    "track": "aetrack.cli.track",
    "stream": "aetrack.cli.stream",
    "predict": "aetrack.cli.predict",
    "eval": "aetrack.cli.eval",
    "synth": "aetrack.cli.synth",
    "train": "aetrack.cli.train",
    "bench": "aetrack.cli.bench",
    "plot": "aetrack.cli.plot",
    "import-weights": "aetrack.cli.import_weights",
}


def _available_commands() -> dict[str, object]:
    modules = {}
    for name, module_name in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aetrack",
        description="Multi-person pose tracking in video with associative embedding.",
    )
    parser.add_argument("--version", action="version", version=f"aetrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _available_commands().values():
        module.add_parser(sub)  # type: ignore[attr-defined]
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except AetrackError as exc:
        print(f"aetrack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aetrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
