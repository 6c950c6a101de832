"""Output health per language (``xlh health``): why a generative task's score is low.

A low chrF++ into Swahili can be bad Swahili, English, or the source copied back; a low MGSM score in Telugu can
be wrong arithmetic, an answer the parser could not read, a chain of thought cut by the token cap, or one written
in English. For every generative task setting and language of a run, each sample is checked, through the task's
``Task.health_view`` (the text whose language is checked, the languages it may be in, a source it must not copy,
whether an answer was parsed):

- ``empty``: the generation is blank (``str.strip``); share of the samples.
- ``length_capped``: a finish reason is ``length`` (the generation hit its token budget); share of the samples
  whose finish reasons were recorded (results schema 4).
- ``unparsable``: the task could read no answer (MGSM: no number; XQuAD: nothing left after normalisation); share
  of the samples, for tasks with a parser.
- ``off_target``: the detector (``harness.metrics.language_id``, CLD2) names a FLORES-200 language that is not one
  of the expected ones; share of the samples whose language was decided (detected at all). Counted only where
  every expected language is covered by the detector (its accuracy on that language's FLORES devtest sentences
  is at least ``language_id.MIN_ACCURACY``); elsewhere the language is "not covered" and no number is given,
  never a guess. The detector's own accuracy on each expected language is reported beside it, so that a noisy
  detector cannot pass for a bad model.
- ``undetected``: the detector gives no FLORES language (empty text, no letters, a bare number, an unknown
  language); share of the samples. Both language checks apply where the task names the expected languages
  (FLORES-200, MGSM); XQuAD's answer spans are too short to tell (see tasks/xquad.py).
- ``source_copy``: where the task names a source (FLORES-200: the sentence to translate), the checked text equals
  it or nearly does: sentence chrF++ (sacrebleu, ``harness.metrics.translation.sentence_chrfs``) of the text
  against the source of at least ``COPY_THRESHOLD``; share of the samples with a source. 70 because, measured on
  FLORES devtest (all 406 English directions, 410,872 sentence pairs), a human translation scores at most 84.6
  against its source and 70 or more for 0.031% of pairs (at most 0.25% for one language's two directions,
  pag_Latn), while a copy with 10% of its words dropped scores 70 or more 96% of the time and the first 80% of a
  source (or the source twice) always.

The checks are not exclusive: an empty answer is also undetected and, with a parser, unparsable; a copy of an
English source in a direction from English is a copy and off-target. Runs are chosen as tables choose them
(``comparability.latest``: per model and setting the largest LIMIT, then the newest) from run folders or folders
of runs; samples are read one line at a time, so a run of any size fits in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sacrebleu

from harness.analysis.table_model import TableError
from harness.analysis.table_runs import load_runs
from harness.api.languages import Language
from harness.api.registry import all_tasks
from harness.api.task import HealthView, Task
from harness.errors import ConfigError, XlhError
from harness.metrics import language_id
from harness.metrics.translation import sentence_chrfs
from harness.records.comparability import ModelIdentity, Setting, distinct_names, latest, run_name
from harness.records.io import StoredRun, read_samples, run_splits
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE, RunResult, SampleRecord, TaskResult, setting_name

CHECKS = ("empty", "length_capped", "unparsable", "off_target", "undetected", "source_copy")
COPY_THRESHOLD = 70.0  # sentence chrF++ against the source (see the module docstring for the measurement)
CHUNK = 1024  # samples of one language checked together (one detector and chrF++ batch)
CHECKED, NOT_COVERED, NOT_CHECKED = "checked", "not covered", "not checked"  # LanguageHealth.language_check
HEALTH_VERSION = 1  # in every signature; bumped whenever a check, its threshold or its denominator changes
TallyKey = tuple[str, str, str, str]  # task, variant, split, language code


class HealthError(XlhError):
    """Runs that cannot be checked: a path that is no run, no generative task, a task selection matching nothing."""


# -- the report -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HealthValue:
    """One check of one language: ``count`` of ``n`` samples (``n``: the check's denominator), ``share`` =
    count / n (None when n is 0), and what was checked how (``signature``)."""

    count: int
    share: float | None
    n: int
    signature: str


@dataclass(frozen=True)
class LanguageHealth:
    """Every check of one language of one task setting.

    Attributes:
        n: the samples checked.
        expected: the FLORES-200 codes the checked text may be in.
        uncovered: those of ``expected`` the detector does not cover: then ``off_target`` is absent.
        language_check: ``checked``, ``not covered`` (some expected language is not covered: no off_target) or
            ``not checked`` (the task names no expected language: no off_target, no undetected).
        detector_accuracy: per expected code, the detector's accuracy on its FLORES devtest sentences.
        checks: per check name (``CHECKS`` order), its value; a check that does not apply is absent.
        detected: how often the detector named each FLORES code (``none``: no language), most common first.
    """

    code: str
    flores: str
    name: str
    n: int
    expected: tuple[str, ...]
    uncovered: tuple[str, ...]
    language_check: str
    detector_accuracy: dict[str, float]
    checks: dict[str, HealthValue]
    detected: dict[str, int]


@dataclass(frozen=True)
class SettingHealth:
    """One generative task setting of a run: ``label`` as tables name it, ``part``: the text checked."""

    task: str
    variant: str
    split: str
    label: str
    part: str
    languages: list[LanguageHealth]

    @property
    def key(self) -> str:
        return setting_name(self.task, self.variant, self.split)


@dataclass(frozen=True)
class RunHealth:
    """The checked settings of one run folder; ``model``: its name, distinct among the report's models."""

    folder: str
    run_id: str
    model: str
    identity: str
    settings: list[SettingHealth]


@dataclass(frozen=True)
class HealthReport:
    detector: str  # the detector's signature
    copy_threshold: float
    runs: list[RunHealth]
    notes: list[str] = field(default_factory=list)


# -- one language's samples -------------------------------------------------------------------------------------
@dataclass
class _Tally:
    """The running counts of one language of one task setting."""

    counts: Counter[str] = field(default_factory=Counter)  # check -> count, and "<check>:n" -> denominator
    detected: Counter[str] = field(default_factory=Counter)
    expected: dict[str, None] = field(default_factory=dict)  # ordered set
    parts: dict[str, None] = field(default_factory=dict)
    n: int = 0
    pending: list[tuple[HealthView, str, list[str], str]] = field(default_factory=list)
    off_target_items: dict[str, bool] = field(default_factory=dict)  # item id -> off target (decided items only)

    def add(self, view: HealthView, generation: str, finish_reasons: list[str], item: str = "") -> None:
        self.pending.append((view, generation, finish_reasons, item))
        if len(self.pending) >= CHUNK:
            self.flush()

    def _count(self, check: str, hit: bool) -> None:
        self.counts[check] += hit
        self.counts[f"{check}:n"] += 1

    def flush(self) -> None:
        """Check the pending samples: the detector and chrF++ run over them together."""
        pending, self.pending = self.pending, []
        detections = iter(language_id.detect([view.text for view, _, _, _ in pending if view.expected]))
        copies = _copies([view for view, _, _, _ in pending])
        for (view, generation, reasons, item), copy in zip(pending, copies, strict=True):
            self.n += 1
            self.expected.update(dict.fromkeys(view.expected))
            self.parts[view.part] = None
            self._count("empty", not generation.strip())
            if reasons:
                self._count("length_capped", "length" in reasons)
            if view.parsed is not None:
                self._count("unparsable", not view.parsed)
            if view.expected:  # a language to check
                detected = next(detections).flores
                self._count("undetected", detected is None)
                self.detected[detected or language_id.NO_DETECTION] += 1
                if detected is not None and all(language_id.covered(code) for code in view.expected):
                    self._count("off_target", detected not in view.expected)
                    self.off_target_items[item] = detected not in view.expected
            if copy is not None:
                self._count("source_copy", copy)


def _copies(views: Sequence[HealthView]) -> list[bool | None]:
    """Per view: whether its text is a copy of its source (None without a source)."""
    found: list[bool | None] = [None if view.source is None else view.text == view.source for view in views]
    scored = [i for i, view in enumerate(views) if view.source is not None and view.text and not found[i]]
    sources = [views[i].source or "" for i in scored]
    for index, score in zip(scored, sentence_chrfs([views[i].text for i in scored], sources), strict=True):
        found[index] = score >= COPY_THRESHOLD
    return found


def signatures(part: str, expected: Sequence[str], task: TaskResult) -> dict[str, str]:
    """How each check was computed, for one language of one task setting."""
    detector, version = language_id.DETECTOR.signature, f"health:v{HEALTH_VERSION}"
    return {
        "empty": f"check:empty|text:generation|blank:str.strip|{version}",
        "length_capped": f"check:length_capped|finish_reason:length|{version}",
        "unparsable": f"check:unparsable|parser:{task.name} v{task.version} {task.variant}|{version}",
        "off_target": f"check:off_target|{detector}|text:{part}|expected:{'+'.join(expected)}|"
        f"covered:acc>={language_id.MIN_ACCURACY:g}|{version}",
        "undetected": f"check:undetected|{detector}|text:{part}|{version}",
        "source_copy": f"check:source_copy|text:{part}|chrF++>={COPY_THRESHOLD:g} vs source|"
        f"sacrebleu:{sacrebleu.__version__}|{version}",
    }


def language_health(tally: _Tally, task: TaskResult, code: str) -> LanguageHealth:
    """The finished checks of one language (its ``tally`` flushed)."""
    tally.flush()
    expected, result = tuple(tally.expected), task.languages[code]
    part = " / ".join(tally.parts)
    signed = signatures(part, expected, task)
    checks = {}
    for check in CHECKS:
        n = tally.counts[f"{check}:n"]
        if n:
            count = tally.counts[check]
            checks[check] = HealthValue(count, count / n, n, signed[check])
    uncovered = tuple(code for code in expected if not language_id.covered(code))
    if uncovered:
        checks.pop("off_target", None)
    elif "off_target" not in checks and expected:  # nothing was decided: 0 of 0, said so rather than left out
        checks["off_target"] = HealthValue(0, None, 0, signed["off_target"])
    table = language_id.table()
    accuracy = {code: table[code].accuracy for code in expected if code in table}
    detected = dict(tally.detected.most_common())
    check = NOT_CHECKED if not expected else NOT_COVERED if uncovered else CHECKED
    return LanguageHealth(
        code, result.flores, result.name, tally.n, expected, uncovered, check, accuracy, checks, detected
    )


# -- reading a run ----------------------------------------------------------------------------------------------
def health_plugin(name: str) -> Task[Any] | None:
    """The registered task ``name`` when it has output health (it overrides ``Task.health_view``), else None."""
    plugin = all_tasks().get(name)
    return plugin if plugin is not None and plugin.has_output_health else None


def _split_of(sample: SampleRecord, run: RunResult) -> str:
    """The sample's split; for an old sample without one, the split its task and variant ran on (if only one)."""
    if sample.split:
        return sample.split
    splits = set(run_splits(run, sample.task, sample.variant))
    return splits.pop() if len(splits) == 1 else ""


def _tallies(folder: Path, run: RunResult, tasks: Sequence[TaskResult], notes: list[str]) -> dict[TallyKey, _Tally]:
    """The samples of ``tasks`` (of ``run``, each with output health) checked, per task setting and language."""
    samples = folder / SAMPLES_FILE
    if not samples.is_file():
        raise HealthError(f"{samples}: missing (output health reads the generations)")
    plugins = {task.name: health_plugin(task.name) for task in tasks}
    wanted = {(task.name, task.variant, task.split): task for task in tasks}
    tallies: dict[TallyKey, _Tally] = {}
    languages: dict[tuple[str, str], Language | None] = {}
    for sample in read_samples(samples, set(plugins)):
        task, plugin = wanted.get((sample.task, sample.variant, _split_of(sample, run))), plugins.get(sample.task)
        if task is None or plugin is None or sample.language not in task.languages:
            continue
        if (task.name, sample.language) not in languages:
            languages[task.name, sample.language] = _language(plugin, sample.language, folder, notes)
        language = languages[task.name, sample.language]
        if language is None or len(sample.responses) != 1 or not isinstance(sample.responses[0], str):
            continue  # a language the task no longer has, or not one generation: nothing to check
        generation = sample.responses[0]
        view = plugin.health_view(language, task.variant, generation, sample.extracted, sample.details)
        if view is not None:
            key = (task.name, task.variant, task.split, sample.language)
            tallies.setdefault(key, _Tally()).add(view, generation, sample.finish_reasons, sample.id)
    return tallies


def off_target_items(folder: Path, run: RunResult, task: TaskResult, notes: list[str]) -> dict[str, dict[str, bool]]:
    """Per language of ``task`` (a task result of ``run`` with output health): each item whose language was
    decided where the detector covers the expected languages, and whether it was off target (the items the
    ``off_target`` check counts), for paired tests (``regress_health``)."""
    tallies = _tallies(folder, run, [task], notes)
    found = {}
    for (_, _, _, code), tally in tallies.items():
        tally.flush()
        found[code] = dict(tally.off_target_items)
    return found


def _language(plugin: Task[Any], code: str, folder: Path, notes: list[str]) -> Language | None:
    try:
        return plugin.language(code)
    except ConfigError as error:
        notes.append(f"{folder}: {code} left out ({error})")
        return None


def check_run(folder: Path, run: RunResult, tasks: Sequence[TaskResult], notes: list[str]) -> list[SettingHealth]:
    """Every check of ``tasks`` (task results of ``run``, each with output health) over the run's samples; a
    language without samples to check gets a note."""
    tallies = _tallies(folder, run, tasks, notes)
    settings = []
    for task in tasks:
        found: list[LanguageHealth] = []
        parts: dict[str, None] = {}
        for code in task.languages:
            tally = tallies.get((task.name, task.variant, task.split, code))
            if tally is None:
                notes.append(f"{folder}: no generation of {task.key} {code} to check")
                continue
            found.append(language_health(tally, task, code))
            parts.update(tally.parts)
        if found:
            label = Setting.of(run, task).label()
            settings.append(SettingHealth(task.name, task.variant, task.split, label, " / ".join(parts), found))
    return settings


def matches(task: TaskResult, selectors: Sequence[str] | None) -> bool:
    """Whether ``task`` is one of ``selectors`` (``task``, ``task:variant``, ``task@split``,
    ``task:variant@split``); no selectors: every task."""
    if not selectors:
        return True
    for selector in selectors:
        rest, _, split = selector.partition("@")
        name, _, variant = rest.partition(":")
        if name == task.name and variant in ("", task.variant) and split in ("", task.split):
            return True
    return False


def checkable(task: TaskResult, selectors: Sequence[str] | None) -> bool:
    """Whether ``task`` has output health and is selected."""
    return health_plugin(task.name) is not None and matches(task, selectors)


def _load(paths: Sequence[Path], selectors: Sequence[str] | None) -> list[StoredRun]:
    """The runs under ``paths``; a run folder named itself with nothing to check is an error naming what it holds."""
    runs = []
    for path in paths:
        try:
            found = load_runs([path])
        except TableError as error:
            raise HealthError(f"{error} (give run folders, results/<model>, or results/)") from error
        named = found[0].result if (path / RESULTS_FILE).is_file() else None
        if named is not None and not any(checkable(task, selectors) for task in named.tasks):
            held = ", ".join(t.key for t in named.tasks) or "none"
            which = f"matching {','.join(selectors)} " if selectors else ""
            raise HealthError(f"{path}: no generative task {which}to check (its tasks: {held}; "
                              f"tasks with output health: {', '.join(generative_tasks())})")  # fmt: skip
        runs += found
    return runs


def generative_tasks() -> list[str]:
    """The registered tasks with output health."""
    return sorted(name for name in all_tasks() if health_plugin(name) is not None)


def health_report(paths: Sequence[Path], selectors: Sequence[str] | None = None) -> HealthReport:
    """The output health of every generative task setting in the runs under ``paths``.

    Args:
        paths: run folders, or folders with run folders under them (a model's results folder).
        selectors: ``task[:variant][@split]`` to keep (default: every generative task).

    Raises:
        HealthError: a path that is no run, a run folder without a generative task, nothing to check at all.
    """
    if not paths:
        raise HealthError("give run folders or results folders")
    runs = _load(paths, selectors)
    chosen = [found for found in latest(runs).values() if checkable(found[2], selectors)]
    if not chosen:
        which = f" matching {','.join(selectors)}" if selectors else ""
        raise HealthError(f"no generative task{which} in {', '.join(map(str, paths))} "
                          f"(tasks with output health: {', '.join(generative_tasks())})")  # fmt: skip
    names = distinct_names({ModelIdentity.of(run): run_name(run) for _, run, _ in chosen})
    by_folder: dict[Path, list[TaskResult]] = {}
    for folder, _, task in chosen:
        by_folder.setdefault(folder, []).append(task)
    notes: list[str] = []
    report = []
    run_of = {folder: run for folder, run, _ in chosen}
    for folder, tasks in by_folder.items():
        run = run_of[folder]
        identity = ModelIdentity.of(run)
        settings = check_run(folder, run, tasks, notes)
        report.append(RunHealth(str(folder), run.run_id, names[identity], identity.describe(), settings))
    return HealthReport(language_id.DETECTOR.signature, COPY_THRESHOLD, report, notes)


__all__ = [
    "CHECKED",
    "CHECKS",
    "COPY_THRESHOLD",
    "NOT_CHECKED",
    "NOT_COVERED",
    "HealthError",
    "HealthReport",
    "HealthValue",
    "LanguageHealth",
    "RunHealth",
    "SettingHealth",
    "health_report",
]
