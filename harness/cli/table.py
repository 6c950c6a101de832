"""``xlh table``: transfer tables (scores, deltas vs base, merge gain) of run folders or of a study's models."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.table_model import Bootstrap, TableError
from harness.render.tables import FORMATS
from harness.seeds import DEFAULT_SEED

HELP = "transfer tables: scores, deltas vs base, merge gain, per language"


def add_arguments(table: argparse.ArgumentParser) -> None:
    table.add_argument("run_folders", nargs="*", type=Path, help="run folders, or folders with run folders (results/)")
    table.add_argument("--study", type=Path, default=None, help="a study file: its models' runs under --results")
    table.add_argument("--results", type=Path, default=Path("results"), help="where --study finds runs (results/)")
    table.add_argument("--format", choices=FORMATS, default="terminal")
    table.add_argument("--out", type=Path, default=None, help="write the tables to this file (default: print)")
    table.add_argument(
        "--group",
        choices=("family", "script", "resource"),
        default=None,
        help="one column per language family, script or resource class (their mean) instead of per language",
    )
    table.add_argument("--tasks", default=None, help="comma-separated task or task:variant (default: all in the runs)")
    table.add_argument("--metrics", default=None, help="comma-separated metrics (default: each task's headline)")
    table.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples (default 1000)")
    table.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"paired bootstrap seed (default {DEFAULT_SEED})")


def run(args: argparse.Namespace) -> int:
    from harness.cli.common import csv_list

    request = TableRequest(
        run_folders=tuple(args.run_folders),
        study=args.study,
        results=args.results,
        fmt=args.format,
        out=args.out,
        group_by=args.group,
        tasks=csv_list(args.tasks),
        metrics=csv_list(args.metrics),
        bootstrap=Bootstrap(resamples=args.resamples, seed=args.seed),
    )
    return table_command(request)


@dataclass(frozen=True)
class TableRequest:
    """What ``xlh table`` was asked for."""

    run_folders: tuple[Path, ...] = ()
    study: Path | None = None
    results: Path = Path("results")
    fmt: str = "terminal"
    out: Path | None = None
    group_by: str | None = None
    tasks: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None
    bootstrap: Bootstrap = field(default_factory=Bootstrap)


def table_command(request: TableRequest) -> int:
    """Build the tables and print them (or write ``request.out``). Returns the exit status.

    Raises:
        TableError: an unknown format, both or neither of run folders and a study, or tables that cannot be
            built.
    """
    from harness.analysis.table_runs import load_runs, load_study_runs
    from harness.analysis.tables import transfer_tables
    from harness.render.tables import render, render_rich

    if request.fmt not in FORMATS:
        raise TableError(f"unknown format {request.fmt!r}; valid: {', '.join(FORMATS)}")
    if request.study is not None:
        if request.run_folders:
            raise TableError("give run folders or --study, not both")
        from harness.analysis.study import load_study

        order = [model.name for model in load_study(request.study).models]
        runs = load_study_runs(request.study, request.results)
    else:
        if not request.run_folders:
            raise TableError("give run folders (or a results folder), or --study studies/x.yaml")
        order, runs = None, load_runs(request.run_folders)
    tables = transfer_tables(runs, request.tasks, request.metrics, request.group_by, request.bootstrap, order)
    if request.out is None and request.fmt == "terminal":
        from rich.console import Console

        console = Console(width=None if Console().is_terminal else 200)
        for rich_table in render_rich(tables):
            console.print(rich_table)
        return 0
    text = render(tables, request.fmt)
    if request.out is None:
        print(text, end="")
    else:
        request.out.parent.mkdir(parents=True, exist_ok=True)
        request.out.write_text(text, encoding="utf-8")
        print(f"{len(tables)} tables written to {request.out}")
    return 0


__all__ = ["HELP", "TableRequest", "add_arguments", "run", "table_command"]
