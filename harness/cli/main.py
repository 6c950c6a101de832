"""The ``xlh`` command line: one module per command under ``harness.cli``, each with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; this module only builds the parser and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from harness.cli import (
    cache,
    correlate,
    diff,
    eval,
    health,
    heatmap,
    leaderboard,
    merge,
    models,
    regress,
    show,
    sweep,
    table,
    tasks,
)
from harness.cli.process_exit import end_process
from harness.errors import XlhError


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    @classmethod
    def of(cls, module: ModuleType) -> Command:
        return cls(module.HELP, module.add_arguments, module.run)


COMMANDS = {
    "eval": Command.of(eval),
    "table": Command.of(table),
    "tasks": Command.of(tasks),
    "models": Command.of(models),
    "cache": Command.of(cache),
    "show": Command.of(show),
    "regress": Command.of(regress),
    "leaderboard": Command.of(leaderboard),
    "merge": Command.of(merge),
    "diff": Command.of(diff),
    "sweep": Command.of(sweep),
    "correlate": Command.of(correlate),
    "heatmap": Command.of(heatmap),
    "health": Command.of(health),
    "tiny-model": Command(models.TINY_HELP, models.add_tiny_arguments, models.run_tiny),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlh", description="Cross-lingual evaluation harness")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(commands.add_parser(name, help=command.help))
    return parser


def entry() -> None:
    """The ``xlh`` console command: ``main``, then the process ends (``process_exit``); tests call ``main``."""
    end_process(main())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except XlhError as error:
        print(f"xlh: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xlh: interrupted; no results were written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
