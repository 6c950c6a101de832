"""The task plugin API: what a benchmark declares so that xlh can evaluate it.

A plugin subclasses ``Task`` with a typed example record ``E`` and declares, in this order: name and
version, languages, where data comes from (local files and the Hub), how an example becomes requests,
how responses become per-sample scores, and which metrics aggregate them. The core never looks inside
an example beyond its ``id``.

Few-shot: the core draws ``k`` solved examples ("shots") from a pool split of the same or another language
(``shot_split``, ``select_shots``) and hands them to ``requests``; a task says how one solved example reads
as a demonstration (``demonstration``) and puts ``fewshot_prefix(shots)`` before its prompt.

Variants are declared values: ``variants`` names them, and every table keyed by variant (prompt templates,
formulations) is listed in ``variant_tables``. Both are checked when the class is created, so a misspelt
variant in a task module fails at import instead of falling through to another variant at run time;
``check_variant`` refuses an undeclared one given at run time, naming the valid ones.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from harness.api.languages import Language
from harness.api.metric import Metric, SampleScore
from harness.api.requests import Request, Response
from harness.errors import ConfigError

# Between demonstrations, and between the last demonstration and the prompt (lm-eval's fewshot_delimiter).
FEWSHOT_DELIMITER = "\n\n"


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
class HealthView:
    """What the output-health checks (``xlh health``, ``harness.analysis.health``) read of one generation.

    Attributes:
        text: the part of the generation whose language is checked (a translation's hypothesis as scored, a
            chain of thought's final answer sentence).
        expected: the FLORES-200 codes ``text`` may be written in; () where its language cannot be told (XQuAD's
            short answer spans): then it is not checked.
        part: what ``text`` is, in a few words, for the checks' signatures ("hypothesis", "final sentence").
        source: the text a copy of which is a failure ("source_copy": a translation's source sentence); None
            where copying is no failure mode.
        parsed: whether the task could read an answer from the generation; None for tasks without a parser.
    """

    text: str
    expected: tuple[str, ...]
    part: str = "generation"
    source: str | None = None
    parsed: bool | None = None


@dataclass(frozen=True)
class Shot(Generic[E]):
    """A solved example shown before the prompt, in its own language (which may differ from the item's)."""

    example: E
    language: Language


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
    # The tables keyed by variant, by the name errors give them: each must cover exactly ``variants``.
    variant_tables: ClassVar[Mapping[str, Mapping[str, object]]] = {}
    # Name of the sub-folder of DATA_DIR holding the original files (see its SOURCE.md).
    data_folder: ClassVar[str]
    # A task whose requests read the model's hidden states (``EmbedRequest``) rather than its next-token
    # distribution; only backends that can return every layer's hidden states run it (``Backend.embed``).
    reads_hidden_states: ClassVar[bool] = False
    # Whether the task's requests include generations (``GenerationRequest``): a run of tasks that generate nothing
    # lets a backend skip what only generation needs (vLLM's own tokenizer, kept for stop strings).
    generates: ClassVar[bool] = True
    # How many items a language gets when the run sets no LIMIT (None: every item); a task whose score is
    # defined on a fixed number of items (MEXA's 100 sentences) declares it. A LIMIT overrides it.
    default_limit: ClassVar[int | None] = None
    # Whether a run that names no tasks evaluates this one (``make eval`` without TASKS).
    in_default_selection: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_variant_declaration(cls)

    # -- data ------------------------------------------------------------------------------------
    @abstractmethod
    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        """The original files this language and split is read from (hashed into results)."""

    @abstractmethod
    def load_local(self, data_dir: Path, language: Language, split: str) -> list[E]:
        """Read the examples of one language from the original files (errors name file and line)."""

    def expected_examples(self, split: str) -> int | None:
        """How many examples a language has in ``split`` (checked for local files and the Hub alike); None
        when it varies."""
        return None

    @abstractmethod
    def hub_sources(self, language: Language, split: str) -> tuple[HubSource, ...]:
        """Every Hub dataset split one language's examples join, row ``i`` of each being item ``i`` (a translation
        direction reads its source language's config and its target's). One config adapted row by row is the
        common case: ``harness.kit.hub.OneHubConfig`` implements both Hub methods from ``hub_source`` and
        ``from_hub_record``."""

    @abstractmethod
    def from_hub_split(self, rows: Sequence[Sequence[dict[str, Any]]], language: Language, split: str) -> list[E]:
        """Every example of ``split`` from its Hub rows (``rows[i]``: row ``i`` of each source, in ``hub_sources``
        order), as ``load_local`` reads a split whole. Errors name the row: ``ValueError("row 3: ...")`` or a
        DataError."""

    # -- prompts and scoring -------------------------------------------------------------------------
    @abstractmethod
    def requests(self, example: E, language: Language, variant: str, shots: Sequence[Shot[E]] = ()) -> list[Request]:
        """Render one example (after its demonstrations, if any) into the request(s) a backend answers."""

    @abstractmethod
    def score(self, example: E, language: Language, variant: str, responses: Sequence[Response]) -> SampleScore:
        """Turn the responses to ``requests(example, ...)`` into per-sample scores."""

    def score_all(
        self, answered: Sequence[tuple[E, Sequence[Response]]], language: Language, variant: str
    ) -> list[SampleScore]:
        """``score`` of every (example, responses) pair of one language, in order. A task whose per-sample
        scores cost less computed together (FLORES-200's sentence chrF++) overrides it; the scores must be
        those of ``score``."""
        return [self.score(example, language, variant, responses) for example, responses in answered]

    @abstractmethod
    def metrics(self, variant: str) -> tuple[Metric, ...]:
        """The metrics reported for a variant, in display order (the first is the headline)."""

    def stratum(self, example: E) -> Hashable | None:
        """The class an item belongs to (a topic, a gold label), so that a LIMIT sample keeps every class in
        proportion (see harness/run/sampling.py); None for tasks without classes."""
        return None

    def check_limit(self, limit: int, available: int, language: Language, split: str) -> None:
        """Called with a run's LIMIT (or ``default_limit``) and the items a language has: by default a LIMIT
        above that takes them all; a task whose score depends on the number of items raises ConfigError."""

    def notes(self, variant: str) -> tuple[str, ...]:
        """Facts about this run of the task worth keeping in results (e.g. why a metric was left out)."""
        return ()

    @property
    def has_output_health(self) -> bool:
        """Whether the task says what its generations' output health reads (overrides ``health_view``)."""
        return type(self).health_view is not Task.health_view

    def health_view(
        self, language: Language, variant: str, generation: str, extracted: Any, details: Mapping[str, Any]
    ) -> HealthView | None:
        """What the output-health checks read of one generation (``generation``: the raw text; ``extracted``
        and ``details``: the sample's as ``score`` gave them): the text whose language is checked, the languages
        it may be in, a source it must not copy, whether an answer was parsed. None (the default): the task
        generates nothing to check (choice and hidden-state tasks)."""
        return None

    # -- few-shot -----------------------------------------------------------------------------------
    def demonstration(self, shot: Shot[E], variant: str) -> str:
        """One solved example as the model sees it before the prompt: the prompt followed by its answer."""
        raise ConfigError(f"task {self.name!r} does not support few-shot prompts")

    def shot_split(self, split: str) -> str:
        """The split shots are drawn from when evaluating ``split`` (by default the split itself; the item
        being scored is never its own shot)."""
        return split

    def select_shots(self, pool: Sequence[E], example: E, k: int, seed: int) -> list[E]:
        """``k`` shots for ``example``: a random sample of the pool without the item itself (nor its
        translations: ids are parallel across languages), seeded by the seed, the task and the item id,
        so every language of an item sees the same demonstrations and runs are reproducible."""
        candidates = [shot for shot in pool if not self.leaks(shot, example)]
        if k > len(candidates):
            raise ConfigError(
                f"task {self.name!r}: SHOTS={k} but the few-shot pool has only {len(candidates)} usable examples"
            )
        rng = random.Random(f"{seed}|{self.name}|{example.id}")
        return rng.sample(candidates, k)

    def leaks(self, shot: E, example: E) -> bool:
        """True when ``shot`` would give away the answer of ``example`` (by default: the same item)."""
        return shot.id == example.id

    def fewshot_prefix(self, shots: Sequence[Shot[E]], variant: str) -> str:
        """The demonstrations, each followed by the few-shot delimiter ("" without shots)."""
        return "".join(self.demonstration(shot, variant) + FEWSHOT_DELIMITER for shot in shots)

    # -- selection helpers (shared by every task) ----------------------------------------------------
    def select_languages(self, selectors: Sequence[str] | None) -> list[Language]:
        """The task's languages that any selector names (all of them without selectors)."""
        if not selectors:
            return list(self.languages)
        return [lang for lang in self.languages if any(lang.matches(s) for s in selectors)]

    def language_summary(self) -> str:
        """The languages as ``xlh tasks`` and error messages list them (dataset code, FLORES code if other)."""
        codes = [lang.code if lang.code == lang.flores else f"{lang.code} ({lang.flores})" for lang in self.languages]
        return f"{len(codes)}: {', '.join(codes)}"

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


# Variant names travel in ``--tasks task:variant@split,...`` selections, so they cannot hold these.
_VARIANT_SEPARATORS = (":", "@", ",")


def check_variant_declaration(cls: type[Task[Any]]) -> None:
    """Fail at class creation (so at import) when a task's variant declaration is inconsistent.

    Raises:
        TypeError: a variant named twice or unusable on the command line, a default that is not declared, or
            a table of ``variant_tables`` that misses (or invents) a variant; the message names the task.
    """
    owner = getattr(cls, "name", cls.__qualname__)
    variants = cls.variants
    if not variants or len(set(variants)) != len(variants):
        raise TypeError(f"{owner}: variants must be distinct and at least one, found {variants!r}")
    for variant in variants:
        if not isinstance(variant, str) or not variant or any(sep in variant for sep in _VARIANT_SEPARATORS):
            raise TypeError(f"{owner}: variant {variant!r} must be a non-empty name without ':', '@' or ','")
    if cls.default_variant not in variants:
        raise TypeError(
            f"{owner}: default variant {cls.default_variant!r} is not declared; variants: {', '.join(variants)}"
        )
    for table_name, table in cls.variant_tables.items():
        missing = [variant for variant in variants if variant not in table]
        extra = sorted(str(key) for key in table if key not in variants)
        if missing or extra:
            raise TypeError(
                f"{owner}: variant table {table_name} does not match the declared variants {', '.join(variants)} "
                f"(missing: {', '.join(missing) or 'none'}, undeclared: {', '.join(extra) or 'none'})"
            )
