"""lm-eval 0.4.13 results files on the leaderboard: their per-task scores imported by task name.

lm-eval's ``EvaluationTracker.save_results_aggregated`` writes ``<output_path>/<model>/results_<date>.json``:
``{"results": {task: {"<metric>,<filter>": value, "<metric>_stderr,<filter>": stderr, ...}}, "configs",
"versions", "n-shot", "n-samples", "config": {"model_args", "model_revision", "model_sha", "limit", ...},
"model_name", "chat_template_sha", "date", "lm_eval_version", ...}``. A task whose name ``LMEVAL_TASKS`` maps
becomes one language of an xlh task (``xnli_de`` acc -> xnli sentence validation, German, acc); tasks it does
not map are named in a note.

An imported score gets a ``comparability.Setting`` with ``harness="lm-eval"`` (its own leaderboard columns:
lm-eval's task versions, data source and metric code are not xlh's, even where the parity tests show the same
numbers) and a ``ModelIdentity`` built from what lm-eval records of the model (its name and revision, the
adapter's commit, the chat template's hash), marked with ``board.LMEVAL_IDENTITY``: lm-eval does not
fingerprint weights, so such a model is never the same row as an xlh run's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.analysis.board import LMEVAL, LMEVAL_IDENTITY, BoardEntry, ColumnConfig, LanguageScore, number
from harness.api.metric import Unit
from harness.api.registry import get_task
from harness.errors import ConfigError, DataError
from harness.records.comparability import ModelIdentity, Setting, data_key, sampling_of, shown_name
from harness.records.schema import DataInfo


@dataclass(frozen=True)
class LmEvalTask:
    """A family of lm-eval 0.4.13 tasks (``lm_eval/tasks/...``) and the xlh task configuration it measures.

    ``metrics`` pairs lm-eval's ``metric,filter`` result keys with the xlh metric that reproduces them
    (the parity tests in tests/parity check each pair per sample), headline first as in xlh.
    """

    pattern: re.Pattern[str]  # the lm-eval task name; group ``lang`` is the language, ``prompt`` SIB's prompt
    dataset: str  # lm-eval's Hub dataset for these tasks (a same-named task on other data is not imported)
    task: str
    variant: str
    split: str
    metrics: tuple[tuple[str, str], ...]


_MGSM_COT = (
    ("exact_match,strict-match", "strict_match_lmeval"),
    ("exact_match,flexible-extract", "flexible_match_lmeval"),
)
LMEVAL_TASKS = (
    # xnli/xnli_<lang>.yaml: the ``sentence`` formulation on the validation split.
    LmEvalTask(
        re.compile(r"xnli_(?P<lang>[a-z]{2})"),
        "facebook/xnli",
        "xnli",
        "sentence",
        "validation",
        (("acc,none", "acc"), ("acc_norm,none", "acc_norm")),
    ),
    # mgsm/{direct,native_cot,en_cot}/mgsm_*_<lang>.yaml: lm-eval compares strings (xlh's *_lmeval metrics).
    LmEvalTask(
        re.compile(r"mgsm_direct_(?P<lang>[a-z]{2})"),
        "juletxara/mgsm",
        "mgsm",
        "direct",
        "test",
        (
            ("exact_match,remove_whitespace", "exact_match_lmeval"),
            ("exact_match,flexible-extract", "flexible_match_lmeval"),
        ),
    ),
    LmEvalTask(
        re.compile(r"mgsm_native_cot_(?P<lang>[a-z]{2})"), "juletxara/mgsm", "mgsm", "native_cot", "test", _MGSM_COT
    ),
    LmEvalTask(re.compile(r"mgsm_en_cot_(?P<lang>[a-z]{2})"), "juletxara/mgsm", "mgsm", "en_cot", "test", _MGSM_COT),
    # belebele/belebele_<flores>.yaml.
    LmEvalTask(
        re.compile(r"belebele_(?P<lang>[a-z]{3}_[A-Za-z]{4})"),
        "facebook/belebele",
        "belebele",
        "default",
        "test",
        (("acc,none", "acc"), ("acc_norm,none", "acc_norm")),
    ),
    # xquad/xquad_<lang>.yaml: first-answer, ASCII-punctuation SQuAD metrics (xlh's *_lmeval).
    LmEvalTask(
        re.compile(r"xquad_(?P<lang>[a-z]{2})"),
        "google/xquad",
        "xquad",
        "default",
        "validation",
        (("f1,none", "f1_lmeval"), ("exact_match,none", "exact_match_lmeval")),
    ),
    # afrobench/sib/prompt_<n>/sib_<iso639-3>.yaml: weighted F1 is xlh's f1_weighted.
    LmEvalTask(
        re.compile(r"sib_(?P<lang>[a-z]{3})_prompt_(?P<prompt>[1-5])"),
        "Davlan/sib200",
        "sib200",
        "prompt_{prompt}",
        "test",
        (("acc,none", "acc"), ("f1,none", "f1_weighted")),
    ),
)


def is_lmeval(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("results"), dict)
        and any(key in doc for key in ("lm_eval_version", "n-shot", "configs", "versions"))
    )


def _model_arg(doc: dict[str, Any], key: str) -> str | None:
    """One of lm-eval's ``model_args`` (a dict, or ``"pretrained=x,peft=y"``), as recorded in ``config``."""
    args = (doc.get("config") or {}).get("model_args")
    if isinstance(args, dict):
        value = args.get(key)
        return str(value) if value else None
    if isinstance(args, str):
        for part in args.split(","):
            name, _, value = part.partition("=")
            if name.strip() == key and value.strip():
                return value.strip()
    return None


def _lmeval_model(doc: dict[str, Any], path: Path) -> str:
    if doc.get("model_name"):
        return str(doc["model_name"])
    pretrained = _model_arg(doc, "pretrained")
    if pretrained:
        return pretrained
    raise DataError("no model_name and no pretrained= in config.model_args", path)


def lmeval_identity(doc: dict[str, Any], name: str) -> ModelIdentity:
    """The model of an lm-eval results file as lm-eval records it: its name with the Hub commit (or the
    revision asked for), a PEFT adapter's commit (or path), and the chat template's hash when one was applied.
    Marked ``LMEVAL_IDENTITY``: no weights fingerprint, so never equal to an xlh run's identity."""
    config = doc.get("config") or {}
    revision = config.get("model_sha") or config.get("model_revision")
    adapter = config.get("peft_sha") or _model_arg(doc, "peft")
    template = doc.get("chat_template_sha") if doc.get("chat_template") else None
    return ModelIdentity(
        weights=f"{LMEVAL_IDENTITY}{name}" + (f"@{revision}" if revision else ""),
        adapter=str(adapter) if adapter else None,
        chat_template=str(template) if template else None,
    )


def _lmeval_language(spec: LmEvalTask, match: re.Match[str], config: dict[str, Any]) -> tuple[str, str, str]:
    task = get_task(spec.task)
    # SIB's task names carry ISO 639-3 only; the YAML's dataset_name has the script (``yor_Latn``).
    for selector in (config.get("dataset_name"), match["lang"]):
        if isinstance(selector, str):
            # An exact code first: ``Task.language("sin_Sinh")`` answers sin_Latn (the script is dropped as
            # Sinhala's default when the selector is parsed, and sin_Latn comes first).
            exact = [lang for lang in task.languages if selector in (lang.code, lang.flores)]
            try:
                language = exact[0] if exact else task.language(selector)
            except ConfigError:
                continue
            return language.code, language.flores, language.name
    raise ConfigError(f"{spec.task} has no language {match['lang']!r}")


def _task_version(version: Any) -> int:
    """lm-eval's task version (``1.0``) as ``Setting.version``; the exact text is the column's ``version``."""
    try:
        return int(float(version))
    except (TypeError, ValueError):
        return 0


def _data(task_config: dict[str, Any], split: str, samples: dict[str, Any]) -> str:
    """``data_key`` of what lm-eval records of a task's data: the dataset, its configuration, split, revision
    and loading arguments (local ``data_files``), and how many documents it had."""
    if not task_config:
        return "unknown"
    kwargs = task_config.get("dataset_kwargs") or {}
    loading = json.dumps(kwargs, sort_keys=True, default=str) if kwargs else None
    hub = {
        "path": task_config.get("dataset_path"),
        "name": task_config.get("dataset_name"),
        "split": split,
        "revision": task_config.get("revision") or (kwargs.get("revision") if isinstance(kwargs, dict) else None),
        "fingerprint": hashlib.sha256(loading.encode()).hexdigest()[:16] if loading else None,
    }
    total = samples.get("original")
    return data_key(DataInfo(source="hub", split=split, hub=hub, total_examples=total if isinstance(total, int) else 0))


def read_lmeval(doc: dict[str, Any], path: Path, notes: list[str]) -> list[BoardEntry]:
    """The entries of one lm-eval results file: its tasks that ``LMEVAL_TASKS`` maps, one entry per column;
    tasks it does not map are named in ``notes``. Raises ``DataError`` (naming the file) when the file does
    not say which model it is."""
    harness = f"{LMEVAL} {doc.get('lm_eval_version', '?')}"
    run_config = doc.get("config") or {}
    name = _lmeval_model(doc, path)
    identity = lmeval_identity(doc, name)
    date = number(doc.get("date"))
    stamp = date if date is not None else path.stat().st_mtime
    created = datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")
    groups = set(doc.get("group_subtasks", {})) | set(doc.get("groups", {}))
    grouped: dict[ColumnConfig, dict[str, LanguageScore]] = {}
    unmapped = []
    for task_name, scores in doc["results"].items():
        spec, match = next(
            ((s, s.pattern.fullmatch(task_name)) for s in LMEVAL_TASKS if s.pattern.fullmatch(task_name)), (None, None)
        )
        if spec is None or match is None:
            if task_name not in groups:
                unmapped.append(task_name)
            continue
        present = [(theirs, ours) for theirs, ours in spec.metrics if number(scores.get(theirs)) is not None]
        if not present:
            unmapped.append(f"{task_name} (none of {', '.join(t for t, _ in spec.metrics)})")
            continue
        theirs, ours = present[0]
        task_config = (doc.get("configs") or {}).get(task_name) or {}
        try:
            code, flores, language_name = _lmeval_language(spec, match, task_config)
        except ConfigError as error:
            unmapped.append(f"{task_name} ({error})")
            continue
        shots = int((doc.get("n-shot") or {}).get(task_name, task_config.get("num_fewshot") or 0))
        split = str(task_config.get("test_split") or task_config.get("validation_split") or spec.split)
        version = (doc.get("versions") or {}).get(task_name, "?")
        limit = run_config.get("limit")
        setting = Setting(
            task=spec.task,
            version=_task_version(version),
            variant=spec.variant.format(**match.groupdict()),
            split=split,
            shots=shots,
            shots_from="same language" if shots else None,
            shot_seed=run_config.get("fewshot_seed") if shots else None,
            sampling=sampling_of(limit, "first", None),  # lm-eval takes the first N documents
            metrics=((ours, f"{LMEVAL} {theirs}"),),
            temperature=0.0,
            top_p=1.0,
            seed=None,
            dtype=str(run_config.get("model_dtype") or "unrecorded"),
            harness=LMEVAL,
        )
        config = ColumnConfig(setting, limit, ours, Unit.FRACTION, f"lm-eval v{version}", harness)
        samples = (doc.get("n-samples") or {}).get(task_name, {})
        grouped.setdefault(config, {})[code] = LanguageScore(
            code=code,
            flores=flores,
            name=language_name,
            value=float(scores[theirs]),
            stderr=number(scores.get(theirs.replace(",", "_stderr,", 1))),
            n=int(samples.get("effective", scores.get("sample_len", 0))),
            data=_data(task_config, split, samples),
        )
    if unmapped:
        notes.append(f"{path}: lm-eval tasks not imported (no xlh counterpart): {', '.join(sorted(unmapped))}")
    display = f"{shown_name(name)} (lm-eval)"
    return [
        BoardEntry(identity, display, None, config, languages, path.stem, created, path, name, harness)
        for config, languages in grouped.items()
    ]


__all__ = ["LMEVAL_TASKS", "LmEvalTask", "is_lmeval", "lmeval_identity", "read_lmeval"]
