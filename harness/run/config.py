"""What a run is asked to do: the tasks (with variant and split), languages, LIMIT, shots, backend and model,
checked before any data is read or any model is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api.languages import Language
from harness.api.registry import all_tasks, get_task
from harness.api.task import Task
from harness.backends import HIDDEN_STATE_BACKENDS, GenerationParams
from harness.errors import ConfigError
from harness.records.schema import Recipe, setting_name
from harness.run.sampling import DEFAULT_LIMIT_MODE, DEFAULT_LIMIT_SEED, check_limit_mode
from harness.seeds import DEFAULT_SEED


@dataclass(frozen=True)
class TaskSelection:
    """A task with its prompt variant and split (``xnli:label@validation`` on the command line)."""

    task: Task
    variant: str
    split: str

    @classmethod
    def parse(cls, spec: str) -> TaskSelection:
        name, _, split = spec.partition("@")
        name, _, variant = name.partition(":")
        task = get_task(name.strip())
        variant = variant or task.default_variant
        split = split or task.default_split
        task.check_variant(variant)
        task.check_split(split)
        return cls(task, variant, split)

    @property
    def key(self) -> str:
        return setting_name(self.task.name, self.variant, self.split)


@dataclass(frozen=True)
class RunConfig:
    model: str
    tasks: tuple[str, ...]
    languages: tuple[str, ...] | None = None
    limit: int | None = None
    limit_mode: str = DEFAULT_LIMIT_MODE  # "sample": seeded stratified sample (run/sampling.py); "first": lm-eval's
    limit_seed: int = DEFAULT_LIMIT_SEED
    backend: str = "hf"
    data_dir: Path | None = None  # None: datasets come from the Hugging Face Hub
    out_dir: Path = Path("results")
    revision: str | None = None
    generation: GenerationParams = GenerationParams()
    backend_options: dict[str, Any] = field(default_factory=dict)
    role: str | None = None
    parents: tuple[str, ...] = ()
    display_name: str | None = None  # the model's name in tables (default: the model folder's name)
    study: str | None = None
    recipe: Recipe | None = None
    full_fingerprint: bool = False
    command: tuple[str, ...] = ()
    shots: int = 0
    shot_seed: int = DEFAULT_SEED
    shots_from: str | None = None  # None: shots in the item's own language; else a language (``en``)
    cache: Path | None = None  # the response store (SQLite); None: answers are not cached
    # Processes scoring samples and metrics (run/scoring.py); None: every usable core for a large run. Changes
    # no number, so no result records it.
    score_workers: int | None = None


def validate(config: RunConfig) -> list[tuple[TaskSelection, list[Language]]]:
    """Check the selection before any work: tasks, variants, splits, languages, LIMIT, SHOTS."""
    if config.limit is not None and config.limit < 1:
        raise ConfigError(f"LIMIT must be a positive number of examples per language, got {config.limit}")
    check_limit_mode(config.limit_mode)
    if config.score_workers is not None and config.score_workers < 1:
        raise ConfigError(f"score workers must be 1 or more, got {config.score_workers}")
    if config.shots < 0:
        raise ConfigError(f"SHOTS must be 0 or more, got {config.shots}")
    if not config.tasks:
        raise ConfigError(f"no task selected; valid: {', '.join(sorted(all_tasks()))}")
    if config.data_dir is not None and not config.data_dir.is_dir():
        raise ConfigError(f"DATA_DIR {config.data_dir} is not a folder")
    selections = [TaskSelection.parse(spec) for spec in config.tasks]
    keys = [selection.key for selection in selections]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(f"task selected twice: {', '.join(duplicates)}")
    plan = [(selection, selection.task.select_languages(config.languages)) for selection in selections]
    if config.languages:
        for selector in config.languages:
            if not any(lang.matches(selector) for _, langs in plan for lang in langs):
                valid = "; ".join(f"{sel.task.name}: {sel.task.language_summary()}" for sel, _ in plan)
                raise ConfigError(f"no selected task has language {selector!r}; valid: {valid}")
    for selection, _ in plan:
        if selection.task.reads_hidden_states and config.backend not in HIDDEN_STATE_BACKENDS:
            raise ConfigError(
                f"task {selection.task.name!r} reads every layer's hidden states, which backend {config.backend!r} "
                f"cannot return; run it with --backend hf (BACKEND=hf)"
            )
    if config.shots and config.shots_from is not None:
        for selection, _ in plan:
            selection.task.language(config.shots_from)  # fails before any work, naming the task
    return plan
