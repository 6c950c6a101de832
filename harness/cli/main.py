"""The ``xlh`` command line: one module per command under ``harness.cli``, each with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; this module only builds the parser and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from harness.cli import cache, eval, leaderboard, models, regress, show, tasks
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
    "tasks": Command.of(tasks),
    "models": Command.of(models),
    "cache": Command.of(cache),
    "show": Command.of(show),
    "regress": Command.of(regress),
    "leaderboard": Command.of(leaderboard),
    "tiny-model": Command(models.TINY_HELP, models.add_tiny_arguments, models.run_tiny),
}


def _pending_table(parser: argparse.ArgumentParser) -> None:  # TEMPORARY until cli/table.py lands
    from pathlib import Path

    from harness.seeds import DEFAULT_SEED

    parser.add_argument("run_folders", nargs="*", type=Path)
    parser.add_argument("--study", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--format", choices=("terminal", "md", "csv", "latex"), default="terminal")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--group", choices=("family", "script", "resource"), default=None)
    parser.add_argument("--tasks", default=None)
    parser.add_argument("--metrics", default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)


def _pending_table_run(args: argparse.Namespace) -> int:
    from harness.analysis.tables import Bootstrap, TableRequest, table_command
    from harness.cli.common import csv_list

    return table_command(TableRequest(run_folders=tuple(args.run_folders), study=args.study, results=args.results,
        fmt=args.format, out=args.out, group_by=args.group, tasks=csv_list(args.tasks), metrics=csv_list(args.metrics),
        bootstrap=Bootstrap(resamples=args.resamples, seed=args.seed)))  # fmt: skip


COMMANDS["table"] = Command("transfer tables", _pending_table, _pending_table_run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlh", description="Cross-lingual evaluation harness")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.add_arguments(commands.add_parser(name, help=command.help))
    return parser


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
