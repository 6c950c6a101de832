"""lm-eval 0.4.13 results files on the leaderboard: their per-task scores imported by task name.

lm-eval's ``EvaluationTracker.save_results_aggregated`` writes ``<output_path>/<model>/results_<date>.json``:
``{"results": {task: {"<metric>,<filter>": value, "<metric>_stderr,<filter>": stderr, ...}}, "configs",
"versions", "n-shot", "n-samples", "config": {"model_args", "limit", ...}, "model_name", "date",
"lm_eval_version", ...}``. A task whose name ``LMEVAL_TASKS`` maps becomes one language of an xlh task
configuration (``xnli_de`` acc -> xnli:sentence@validation, German, acc); tasks it does not map are named in
a note. Imported scores form their own leaderboard columns (harness ``lm-eval 0.4.13``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.analysis.leaderboard import (
    Entry,
    LanguageScore,
    Malformed,
    ModelKey,
    TaskConfig,
    digest,
    display_name,
    number,
)
from harness.errors import ConfigError
from harness.run.sampling import sampling_of


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


def _lmeval_model(doc: dict[str, Any]) -> str:
    if doc.get("model_name"):
        return str(doc["model_name"])
    args = doc.get("config", {}).get("model_args")
    if isinstance(args, dict) and args.get("pretrained"):
        return str(args["pretrained"])
    if isinstance(args, str) and "pretrained=" in args:
        return args.split("pretrained=")[1].split(",")[0]
    raise Malformed("no model_name and no pretrained= in config.model_args")


def _lmeval_language(spec: LmEvalTask, match: re.Match[str], config: dict[str, Any]) -> tuple[str, str, str]:
    from harness.api.registry import get_task

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


def read_lmeval(doc: dict[str, Any], path: Path, notes: list[str]) -> list[Entry]:
    """The entries of one lm-eval results file: its tasks that ``LMEVAL_TASKS`` maps, grouped by xlh task
    configuration; tasks it does not map are named in ``notes``."""
    harness = f"lm-eval {doc.get('lm_eval_version', '?')}"
    run_config = doc.get("config") or {}
    name = _lmeval_model(doc)
    key = ModelKey(name, str(run_config.get("model_sha") or ""), harness)
    date = number(doc.get("date"))
    stamp = date if date is not None else path.stat().st_mtime
    created = datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="seconds")
    groups = set(doc.get("group_subtasks", {})) | set(doc.get("groups", {}))
    grouped: dict[TaskConfig, dict[str, LanguageScore]] = {}
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
        split = task_config.get("test_split") or task_config.get("validation_split") or spec.split
        config = TaskConfig(
            task=spec.task,
            version=f"lm-eval v{(doc.get('versions') or {}).get(task_name, '?')}",
            variant=spec.variant.format(**match.groupdict()),
            split=str(split),
            shots=shots,
            shots_from=None,
            shot_seed=run_config.get("fewshot_seed") if shots else None,
            limit=run_config.get("limit"),
            sampling=sampling_of(run_config.get("limit"), "first", None),  # lm-eval takes the first N documents
            metric=ours,
            unit="fraction",
            harness=harness,
        )
        samples = (doc.get("n-samples") or {}).get(task_name, {})
        source = {k: task_config.get(k) for k in ("dataset_path", "dataset_name", "dataset_kwargs", "revision")}
        grouped.setdefault(config, {})[code] = LanguageScore(
            code=code,
            flores=flores,
            name=language_name,
            value=float(scores[theirs]),
            stderr=number(scores.get(theirs.replace(",", "_stderr,", 1))),
            n=int(samples.get("effective", scores.get("sample_len", 0))),
            data=digest(source) if task_config else "unknown",
        )
    if unmapped:
        notes.append(f"{path}: lm-eval tasks not imported (no xlh counterpart): {', '.join(sorted(unmapped))}")
    display = f"{display_name(name)} (lm-eval)"
    return [Entry(key, display, None, c, langs, path.stem, created, path) for c, langs in grouped.items()]
