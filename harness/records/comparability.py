"""The one definition of "the same model" and "the same experiment", asked by every table, gate and page.

Two task results are comparable when their ``Setting`` is the same, and two language cells additionally when
their data is (``data_key``); two runs are of the same model when their ``ModelIdentity`` is the same. Tables,
``xlh regress``, the leaderboard and studies all decide through this module, so changing what "comparable"
means is one edit here (and its tests in ``tests/records/test_comparability.py``).

- **Identity** (which model answered): the weights' fingerprint, a LoRA adapter's fingerprint, the model a
  server said it serves, and the chat template's hash when the prompts went through one. A LoRA run, a chat
  run or an openai-served run of a base is another model, not a newer run of the base. The display name is
  not part of it: two checkpoints in folders of the same name are two models.
- **Setting** (what was asked, and how answers were drawn): task, version, variant, split, shots (with their
  language and seed), the LIMIT's sample ("which items"), each metric's signature, the sampling parameters
  and the resolved dtype. The LIMIT's size is not part of it: a seeded LIMIT 20 is nested in LIMIT 50, and
  the two are compared on their shared items.
- **Data** per language: the files' SHA-256 (or the Hub dataset's repository, revision and split), the
  number of items in them, and the few-shot pool's data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from harness.records.schema import DataInfo, RunResult, TaskResult

# -- which items -------------------------------------------------------------------------------------------
LIMIT_MODES = ("sample", "first")  # "sample": the seeded stratified order; "first": the file's first N (lm-eval)
DEFAULT_LIMIT_MODE = "sample"
# The sampler version a results file without ``limit_sampler`` used (harness.run.sampling.SAMPLER_VERSION).
FIRST_SAMPLER = 1


def sampling_of(limit: int | None, mode: str | None, seed: int | None, sampler: int | None = None) -> str:
    """One name for how a run chose its items: "all" without a LIMIT, "first" for lm-eval's first N, "seed S"
    for the seeded sample (with the sampler's version when it is not the first). Runs whose names differ
    evaluated different items and are not compared."""
    if limit is None:
        return "all"
    if mode == "first":
        return "first"
    return f"seed {seed}" if sampler in (None, FIRST_SAMPLER) else f"seed {seed} (sampler v{sampler})"


def task_sampling(task: TaskResult) -> str:
    """``sampling_of`` a task result (records read from schema 1-3 files say ``limit_mode`` "first")."""
    return sampling_of(task.limit, task.limit_mode or "first", task.limit_seed, task.limit_sampler)


# -- which model ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class ModelIdentity:
    """Which model answered. Equal identities are the same model; the newest run of an identity and a setting
    is the one tables show."""

    weights: str
    adapter: str | None = None
    served_model: str | None = None
    chat_template: str | None = None

    @classmethod
    def of(cls, run: RunResult) -> ModelIdentity:
        options = run.backend.options
        chat = bool(options.get("chat"))
        template = options.get("chat_template_sha256") if chat else None
        served = options.get("served_model")
        return cls(
            weights=run.model.fingerprint,
            adapter=run.model.adapter_fingerprint,
            served_model=str(served) if served is not None else None,
            chat_template=(str(template) if template else "unrecorded") if chat else None,
        )

    @property
    def plain(self) -> bool:
        """The weights alone: no adapter, no server in between, no chat template (a study's model, a parent)."""
        return self == ModelIdentity(self.weights)

    def short(self) -> str:
        """A few words that tell identities apart: ``e4714e9``, ``e4714e9 +lora 1a2b3c4``, ``... chat 5d6e7f8``."""
        return " ".join([self.weights[:7], *self._extras("+lora", "served as", "chat", 7)])

    def describe(self, weights: str | None = None) -> str:
        """Everything that makes the model that model, in words (a tooltip, a CSV column); ``weights`` replaces
        the fingerprint's words (an imported lm-eval result names its model otherwise)."""
        first = weights or f"fingerprint {self.weights[:12]}"
        return ", ".join([first, *self._extras("adapter", "served as", "chat template", 12)])

    def _extras(self, adapter: str, served: str, chat: str, digits: int) -> list[str]:
        parts = []
        if self.adapter:
            parts.append(f"{adapter} {self.adapter[:digits]}")
        if self.served_model:
            parts.append(f"{served} {self.served_model}")
        if self.chat_template:
            parts.append(f"{chat} {self.chat_template[:digits]}")
        return parts


# -- what was asked ------------------------------------------------------------------------------------------
# The ", n:7" of a mean's signature says how many items were scored: a LIMIT's size, not how the metric works.
_SAMPLE_COUNT = re.compile(r"\|n:\d+(?=\||$)")


def metric_signature(signature: str) -> str:
    """A metric's signature without its item count (``|n:N``)."""
    return _SAMPLE_COUNT.sub("", signature)


@dataclass(frozen=True)
class Setting:
    """What a task result asked and how its answers were drawn. Equal settings are comparable experiments."""

    task: str
    version: int
    variant: str
    split: str
    shots: int
    shots_from: str | None  # None without shots; "same language" or the shots' language
    shot_seed: int | None  # None without shots
    sampling: str  # ``sampling_of``: all, first, seed S
    metrics: tuple[tuple[str, str], ...]  # (metric, signature without the item count), sorted
    temperature: float
    top_p: float
    seed: int | None  # None when decoding is greedy: the seed cannot change a greedy answer
    dtype: str
    harness: str = "xlh"  # "lm-eval" for scores imported from lm-eval result files

    @classmethod
    def of(cls, run: RunResult, task: TaskResult) -> Setting:
        signatures: dict[str, set[str]] = {}
        for language in task.languages.values():
            for name, value in language.metrics.items():
                signatures.setdefault(name, set()).add(metric_signature(value.signature))
        # One signature per metric; languages computed differently (they should not be) show all of theirs.
        merged = {name: " ; ".join(sorted(found)) for name, found in signatures.items()}
        generation = run.generation
        return cls(
            task=task.name,
            version=task.version,
            variant=task.variant,
            split=task.split,
            shots=task.shots,
            shots_from=(task.shots_from or "same language") if task.shots else None,
            shot_seed=task.shot_seed if task.shots else None,
            sampling=task_sampling(task),
            metrics=tuple(sorted(merged.items())),
            temperature=generation.temperature,
            top_p=generation.top_p,
            seed=None if generation.greedy else generation.seed,
            dtype=run.backend.dtype,
        )

    def label(self) -> str:
        """How tables name the setting: ``xnli v1 prompt_1 test``, with shots, the sample and the decoding when
        not the defaults (0 shots, every item, greedy): a sampled run's table must not read like the greedy one's."""
        parts = [self.task, f"v{self.version}", self.variant, self.split]
        if self.shots:
            parts.append(f"{self.shots}-shot")
            if self.shots_from not in (None, "same language"):
                parts.append(f"from {self.shots_from}")
        if self.sampling != "all":
            parts.append(f"LIMIT {self.sampling}")
        if self.temperature:
            top_p = f" top_p {self.top_p:g}" if self.top_p != 1.0 else ""
            parts.append(f"sampled (temperature {self.temperature:g}{top_p}, seed {self.seed})")
        if self.harness != "xlh":
            parts.append(f"({self.harness})")
        return " ".join(parts)


def setting_differences(a: Setting, b: Setting) -> list[str]:
    """Every way two settings differ, one line each (``shots: 0 vs 5``); empty when they are the same."""
    lines = []
    for spec in fields(Setting):
        left, right = getattr(a, spec.name), getattr(b, spec.name)
        if left == right:
            continue
        if spec.name == "metrics":
            lines.extend(_metric_differences(dict(left), dict(right)))
        else:
            lines.append(f"{spec.name}: {left} vs {right}")
    return lines


def _metric_differences(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    lines = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            lines.append(f"metric {name}: {a.get(name) or 'not computed'} vs {b.get(name) or 'not computed'}")
    return lines


# -- which data --------------------------------------------------------------------------------------------
def data_key(data: DataInfo) -> str:
    """A digest of the data a language was evaluated on: the files' SHA-256 (not their paths: the same files
    under another DATA_DIR are the same data) or the Hub dataset's identity, the item count, and the few-shot
    pool's data. Which items a LIMIT took is the setting's ``sampling``, not part of this."""
    return hashlib.sha256(json.dumps(_data_parts(data), sort_keys=True).encode()).hexdigest()[:16]


_HUB_KEYS = ("path", "name", "split", "revision", "fingerprint")


def _hub_parts(hub: dict[str, Any]) -> list[Any]:
    """A Hub source's identity; a language read from several sources (``{"sources": [...]}``, a translation
    direction's two configs) has each source's, in order."""
    if "sources" in hub:
        return [[source.get(key) for key in _HUB_KEYS] for source in hub["sources"]]
    return [hub.get(key) for key in _HUB_KEYS]


def _data_parts(data: DataInfo) -> dict[str, Any]:
    return {
        "files": sorted(digest for digest in data.files.values()),
        "hub": _hub_parts(data.hub) if data.hub else None,
        "split": data.split,
        "total": data.total_examples,
        "shots": _data_parts(data.shot_pool) if data.shot_pool else None,
    }


def data_differences(where: str, a: DataInfo, b: DataInfo) -> list[str]:
    """Why two languages' data differ (empty when ``data_key`` agrees), naming ``where``."""
    if data_key(a) == data_key(b):
        return []
    parts_a, parts_b = _data_parts(a), _data_parts(b)
    names = {"files": "data files (SHA-256)", "hub": "Hub dataset", "split": "split", "total": "item count",
             "shots": "few-shot pool data"}  # fmt: skip
    return [f"{where}: {names[key]} differ" for key in names if parts_a[key] != parts_b[key]]


# -- whole comparisons ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Whether two task results can be compared, and on which languages.

    ``differences`` lists every difference of setting (the results are not comparable if there is one);
    ``languages`` are the languages both evaluated on the same data; ``data_differences`` says why each other
    shared language is left out.
    """

    differences: list[str]
    languages: list[str]
    data_differences: list[str]

    @property
    def comparable(self) -> bool:
        return not self.differences


def compare(run_a: RunResult, task_a: TaskResult, run_b: RunResult, task_b: TaskResult) -> Comparison:
    """The one answer to "can these two task results be compared?" (tables, regress, leaderboard, studies)."""
    differences = setting_differences(Setting.of(run_a, task_a), Setting.of(run_b, task_b))
    languages, data_lines = [], []
    for code in [code for code in task_a.languages if code in task_b.languages]:
        lines = data_differences(code, task_a.languages[code].data, task_b.languages[code].data)
        if lines:
            data_lines.extend(lines)
        else:
            languages.append(code)
    return Comparison(differences, languages, data_lines)


# -- which run -----------------------------------------------------------------------------------------------
R = TypeVar("R")


def latest(runs: Iterable[tuple[R, RunResult]]) -> dict[tuple[ModelIdentity, Setting], tuple[R, RunResult, TaskResult]]:
    """The task result that stands for each (model identity, setting), with the handle it came with (a folder):
    the one with the largest LIMIT (a seeded LIMIT's items are a prefix of a larger one's, and "first N" ones too,
    so a quick LIMIT 10 check never hides a LIMIT 100 run of the same setting), then the newest.
    Runs of other identities or settings never replace each other, whatever their display names."""
    chosen: dict[tuple[ModelIdentity, Setting], tuple[R, RunResult, TaskResult]] = {}
    for handle, run in runs:
        identity = ModelIdentity.of(run)
        for task in run.tasks:
            key = (identity, Setting.of(run, task))
            known = chosen.get(key)
            if known is None or _standing(run, task) > _standing(known[1], known[2]):
                chosen[key] = (handle, run, task)
    return chosen


def _standing(run: RunResult, task: TaskResult) -> tuple[int, str, str]:
    return (task.limit or 0, run.created_at, run.run_id)


def distinct_names(names: Mapping[ModelIdentity, str]) -> dict[ModelIdentity, str]:
    """Display names that tell models apart: where identities share a name (two checkpoints in folders of the
    same name, a base and its LoRA run), each gets its ``ModelIdentity.short()`` in brackets."""
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {identity: name if counts[name] == 1 else f"{name} [{identity.short()}]" for identity, name in names.items()}


def run_name(run: RunResult) -> str:
    """A run's display name: the one it was given (a study's name, ``--name``), else the model as given (a Hub
    id, a short name), else its folder's name."""
    return run.display_name or shown_name(run.model.name_or_path)


def shown_name(name_or_path: str) -> str:
    """A model as given on the command line, as tables show it: a Hub id (``org/name``) or short name as it is,
    a folder by its last part."""
    if name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1:
        return name_or_path.rstrip("/").rsplit("/", 1)[-1] or name_or_path
    return name_or_path


__all__ = [
    "DEFAULT_LIMIT_MODE",
    "LIMIT_MODES",
    "Comparison",
    "ModelIdentity",
    "Setting",
    "compare",
    "data_differences",
    "data_key",
    "distinct_names",
    "latest",
    "metric_signature",
    "run_name",
    "sampling_of",
    "setting_differences",
    "shown_name",
    "task_sampling",
]
