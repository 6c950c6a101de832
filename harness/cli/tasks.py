"""``xlh tasks``: every task, variant, split and language."""

from __future__ import annotations

import argparse

HELP = "list every task, variant, split and language"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.api.registry import all_tasks

    table = Table(title="xlh tasks (defaults first)", show_lines=True, expand=True)
    for column, ratio in (("task", 3), ("version", 1), ("variants", 2), ("splits", 2), ("languages", 6)):
        table.add_column(column, overflow="fold", ratio=ratio)
    for name, task in sorted(all_tasks().items()):
        variants = [task.default_variant] + [v for v in task.variants if v != task.default_variant]
        splits = [task.default_split] + [s for s in task.splits if s != task.default_split]
        few_shot = (
            "none (hidden states, no prompt)" if task.reads_hidden_states else task.shot_split(task.default_split)
        )
        table.add_row(
            f"{name}\n[dim]{task.description}[/dim]",
            str(task.version),
            "\n".join(variants),
            "\n".join(splits) + f"\n[dim]shots from: {few_shot}[/dim]",
            task.language_summary(),
        )
    Console(width=160).print(table)
    return 0
