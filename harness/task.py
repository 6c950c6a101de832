"""The task plugin API: what a benchmark declares so that xlh can evaluate it.

A plugin subclasses ``Task`` with a typed example record ``E`` and declares, in this order: name and
version, languages, where data comes from (local files and the Hub), how an example becomes requests,
how responses become per-sample scores, and which metrics aggregate them. The core never looks inside
an example beyond its ``id``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from harness.errors import ConfigError
from harness.languages import Language
from harness.metrics import Metric
from harness.requests import Request, Response


class Example(Protocol):
    """Anything with a stable item id; items are parallel across languages when the ids match."""

    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Example)


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face dataset split: ``datasets.load_dataset(path, name, split=split, revision=revision)``."""

    path: str
    name: str | None
    split: str
    revision: str | None = None


@dataclass(frozen=True)
class SampleScore:
    """One example scored: what was extracted from the response, the gold answer, and per-sample numbers
    keyed by metric name (plus any extra fields worth keeping in ``samples.jsonl``)."""

    extracted: Any
    gold: Any
    scores: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


class Task(ABC, Generic[E]):
    """Base class of every benchmark plugin. Class attributes are the declaration; methods are pure."""

    name: ClassVar[str]
    version: ClassVar[int]
    description: ClassVar[str] = ""
    languages: ClassVar[tuple[Language, ...]]
    splits: ClassVar[tuple[str, ...]]
    default_split: ClassVar[str]
    variants: ClassVar[tuple[str, ...]] = ("default",)
    default_variant: ClassVar[str] = "default"
    # Name of the sub-folder of DATA_DIR holding the original files (see its SOURCE.md).
    data_folder: ClassVar[str]

    # -- data ------------------------------------------------------------------------------------
    @abstractmethod
    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        """The original files this language and split is read from (hashed into results)."""

    @abstractmethod
    def load_local(self, data_dir: Path, language: Language, split: str) -> list[E]:
        """Read the examples of one language from the original files (errors name file and line)."""

    @abstractmethod
    def hub_source(self, language: Language, split: str) -> HubSource:
        """Where the same split lives on the Hugging Face Hub."""

    @abstractmethod
    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> E:
        """Adapt one Hub dataset row to the typed example."""

    # -- prompts and scoring -------------------------------------------------------------------------
    @abstractmethod
    def requests(self, example: E, language: Language, variant: str) -> list[Request]:
        """Render one example into the request(s) a backend answers."""

    @abstractmethod
    def score(self, example: E, language: Language, variant: str, responses: Sequence[Response]) -> SampleScore:
        """Turn the responses to ``requests(example, ...)`` into per-sample scores."""

    @abstractmethod
    def metrics(self, variant: str) -> tuple[Metric, ...]:
        """The metrics reported for a variant, in display order (the first is the headline)."""

    # -- selection helpers (shared by every task) ----------------------------------------------------
    def language(self, selector: str) -> Language:
        for language in self.languages:
            if language.matches(selector):
                return language
        valid = ", ".join(lang.code for lang in self.languages)
        raise ConfigError(f"task {self.name!r} has no language {selector!r}; valid: {valid}")

    def check_variant(self, variant: str) -> None:
        if variant not in self.variants:
            raise ConfigError(
                f"task {self.name!r} has no prompt variant {variant!r}; valid: {', '.join(self.variants)}"
            )

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ConfigError(f"task {self.name!r} has no split {split!r}; valid: {', '.join(self.splits)}")


def check_language_table(task_name: str, table_name: str, table: dict[str, Any], codes: Sequence[str]) -> None:
    """Fail at import when a per-language prompt table misses (or invents) a language."""
    missing = sorted(set(codes) - set(table))
    extra = sorted(set(table) - set(codes))
    if missing or extra:
        raise RuntimeError(
            f"{task_name}: prompt table {table_name} does not match the task's languages "
            f"(missing: {missing or 'none'}, unknown: {extra or 'none'})"
        )
