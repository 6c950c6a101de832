"""``xlh cache``: the response store's statistics, pruning one model's answers, clearing it."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.common import cache_path
from harness.errors import XlhError

HELP = "the response store: stats, prune --model M, clear"


def add_arguments(cache: argparse.ArgumentParser) -> None:
    cache.add_argument("action", choices=("stats", "prune", "clear"))
    cache.add_argument("--model", default=None, help="prune: a model folder, short name or the name it was run as")
    cache.add_argument("--cache", default=None, help="store file (default: as xlh eval)")


def run(args: argparse.Namespace) -> int:
    from harness.run import model_store
    from harness.run.model_info import describe_model
    from harness.run.response_cache import ResponseStore

    path = cache_path(args.cache)
    if path is None:
        raise XlhError("the cache is off: give --cache PATH")
    store = ResponseStore(path)
    if not store.enabled:
        return 2
    if args.action == "stats":
        rows = store.stats()
        print(f"{path}: {sum(count for *_, count in rows)} answers")
        for model, fingerprint, kind, count in rows:
            print(f"  {count:8d}  {kind:9}  {model}  ({fingerprint[:12]})")
    elif args.action == "prune":
        if not args.model:
            raise XlhError("cache prune needs --model (a folder, short name or the name a run used)")
        folder = model_store.resolve(args.model)
        digest: str | None = describe_model(folder).fingerprint if Path(folder).is_dir() else None
        print(f"removed {store.prune(digest, folder)} answers of {args.model}")
    else:
        print(f"removed {store.clear()} answers from {path}")
    store.close()
    return 0
