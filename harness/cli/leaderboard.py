"""``xlh leaderboard``: build the leaderboard of a results folder and write ``leaderboard.md``, ``.csv`` and
``.html`` into it, naming on stderr every file skipped and every warning."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.analysis.board import Leaderboard
from harness.analysis.leaderboard import build
from harness.records.io import atomic_write_text
from harness.render.leaderboard_text import to_csv, to_markdown

HELP = "write leaderboard.md, .csv and .html from every results file under a folder"
OUTPUTS = ("leaderboard.md", "leaderboard.csv", "leaderboard.html")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--results``: the folder to read and write into."""
    parser.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")


def run(args: argparse.Namespace) -> int:
    return main(args.results)


def write(board: Leaderboard, out: Path | None = None) -> list[Path]:
    """Write the Markdown, CSV and HTML leaderboard into ``out`` (default: the results folder), each file
    atomically (a reader sees the old file or the new one, never half of one) and readable by others (the
    umask's permissions: a page others may read or serve). Returns the paths, in ``OUTPUTS`` order."""
    out = out or board.root
    from harness.analysis.leaderboard import board_health
    from harness.render.health import render_html, render_markdown
    from harness.render.leaderboard_html import to_html  # matplotlib: not for `xlh --help`

    health, why = board_health(board)
    if why:
        print(f"xlh: warning: {why}", file=sys.stderr)
    markdown = to_markdown(board) + ("\n" + render_markdown(health) if health else "")
    page = to_html(board, render_html(health) if health else "")
    texts = {"leaderboard.md": markdown, "leaderboard.csv": to_csv(board), "leaderboard.html": page}
    paths = []
    for name in OUTPUTS:
        atomic_write_text(out / name, texts[name])
        paths.append(out / name)
    return paths


def main(root: Path) -> int:
    """Build and write the leaderboard of ``root``; name skipped files and warnings on stderr, print the
    paths written."""
    board = build(root)
    for problem in board.problems:
        print(f"xlh: skipped {problem.path}: {problem.message}", file=sys.stderr)
    for warning in board.warnings:
        print(f"xlh: warning: {warning}", file=sys.stderr)
    for path in write(board):
        print(path)
    return 0
