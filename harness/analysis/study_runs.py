"""Which models of a study still need a run: a study model's runs (by identity, never by display name) and
whether they hold complete results for a selection (its setting, languages and, optionally, the current data
files). Used by ``make eval STUDY=...`` and by tables of a study."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.analysis.study import Study, StudyEval, StudyModel
from harness.api.task import Task
from harness.backends.base import GenerationParams
from harness.data import sha256_file
from harness.records import io
from harness.records.comparability import ModelIdentity, Setting, sampling_of
from harness.records.io import StoredRun
from harness.records.schema import DataInfo, TaskResult
from harness.run.config import TaskSelection
from harness.run.sampling import SAMPLER_VERSION

GREEDY = GenerationParams()  # what ``xlh eval`` decodes with unless told otherwise


def model_identity(model: StudyModel) -> tuple[str, str | None, str | None]:
    """(the resolved name or folder, the folder's absolute path if it exists, its current fingerprint: the
    sampled one, as every run records it, ``--full-fingerprint`` or not)."""
    from harness.run.model_info import describe_model
    from harness.run.model_store import resolve

    resolved = resolve(model.model)
    folder = Path(resolved).expanduser()
    if not folder.is_dir():
        return resolved, None, None
    return resolved, str(folder.resolve()), describe_model(resolved, model.revision).fingerprint


def runs_of(model: StudyModel, runs: Sequence[StoredRun]) -> list[StoredRun]:
    """The runs of this model's current weights as the plain model: the ``ModelIdentity`` of the folder's
    current fingerprint where the folder exists here, else the same name as given (a Hub id, or a folder that
    is elsewhere). A run with an adapter, a chat template or through a server is another model's."""
    resolved, _, fingerprint = model_identity(model)
    found = []
    for stored in runs:
        identity = ModelIdentity.of(stored.result)
        if not identity.plain:
            continue  # an adapter, a chat template or a served model: not the study's plain model
        if fingerprint is not None:
            mine = identity.weights == fingerprint
        else:
            mine = stored.result.model.name_or_path in (resolved, model.model)
        if mine:
            found.append(stored)
    return found


def missing_results(
    study: Study,
    results_dir: Path,
    selection: StudyEval | None = None,
    data_dir: Path | None = None,
    generation: GenerationParams = GREEDY,
) -> list[StudyModel]:
    """The models of the study without complete results under ``results_dir`` for ``selection`` (default: the
    study's ``eval``): complete means, for every selected task, one run of the model (``runs_of``) with the
    setting the selection asks for (task version, variant, split, shots, the LIMIT and its sample, and the
    sampling parameters of ``generation``: greedy by default, so a sampled run is not complete results) that covers
    every selected language (evaluated, or skipped for a missing data file). With ``data_dir``, a run counts
    only when it read the data files as they are now there (the SHA-256 it recorded for each language, and for
    its few-shot pool, equal the files'; a language skipped for a missing file counts while the file is still
    missing). Raises ``DataError`` naming a results file that cannot be read."""
    selection = selection or study.eval
    runs = list(io.iter_runs(results_dir)) if results_dir.is_dir() else []
    if selection.tasks is None:
        from harness.api.registry import default_task_names

        specs: Sequence[str] = default_task_names()
    else:
        specs = selection.tasks
    wanted = [TaskSelection.parse(spec) for spec in specs]
    data = _DataCheck(data_dir) if data_dir is not None else None
    missing = []
    for model in study.models:
        mine = runs_of(model, runs)
        if not all(any(_covers(stored, chosen, selection, generation, data) for stored in mine) for chosen in wanted):
            missing.append(model)
    return missing


def expected_setting(
    chosen: TaskSelection, selection: StudyEval, generation: GenerationParams = GREEDY
) -> dict[str, Any]:
    """The fields of ``comparability.Setting`` that a run of ``chosen`` made for ``selection`` with ``generation``
    records. The dtype and the metric signatures are left out: the engine resolves the dtype, and the task
    version stands for its metrics."""
    shots = selection.shots
    return {
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "seed": None if generation.greedy else generation.seed,
        "task": chosen.task.name,
        "version": chosen.task.version,
        "variant": chosen.variant,
        "split": chosen.split,
        "shots": shots,
        "shots_from": (selection.shots_from or "same language") if shots else None,
        "shot_seed": selection.shot_seed if shots else None,
        "sampling": sampling_of(selection.limit, selection.limit_mode, selection.limit_seed, SAMPLER_VERSION),
        "harness": "xlh",
    }


def _covers(
    stored: StoredRun,
    chosen: TaskSelection,
    selection: StudyEval,
    generation: GenerationParams,
    data: _DataCheck | None,
) -> bool:
    """Whether one run holds complete results of ``chosen`` for ``selection`` (and, with ``data``, on the
    data files as they are now)."""
    task = chosen.task
    codes = {language.code for language in task.select_languages(selection.langs)}
    expected = expected_setting(chosen, selection, generation)
    for result in stored.result.tasks:
        setting = Setting.of(stored.result, result)
        if result.limit != selection.limit or any(getattr(setting, k) != v for k, v in expected.items()):
            continue
        if not codes <= set(result.languages) | set(result.skipped):
            continue
        if data is None or all(data.current(task, result, code) for code in codes):
            return True
    return False


class _DataCheck:
    """Whether a run read the data files as they are now under ``data_dir`` (each file hashed once)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.hashes: dict[Path, str | None] = {}

    def _sha256(self, path: Path) -> str | None:
        if path not in self.hashes:
            self.hashes[path] = sha256_file(path) if path.is_file() else None
        return self.hashes[path]

    def _same(self, recorded: DataInfo, task: Task[Any], code: str) -> bool:
        if recorded.source != "local":
            return False  # read from the Hub: not these files
        files = task.local_files(self.data_dir, task.language(code), recorded.split)
        current = [digest for digest in map(self._sha256, files) if digest is not None]
        return len(current) == len(files) and sorted(recorded.files.values()) == sorted(current)

    def current(self, task: Task[Any], result: TaskResult, code: str) -> bool:
        """Whether language ``code`` of ``result`` was read from the files now under ``data_dir``."""
        language = result.languages.get(code)
        if language is None:  # skipped for a missing data file: still right while a file is missing
            files = task.local_files(self.data_dir, task.language(code), result.split)
            return any(self._sha256(path) is None for path in files)
        pool = language.data.shot_pool
        if pool is not None and not self._same(pool, task, pool.language or code):
            return False
        return self._same(language.data, task, code)


__all__ = ["expected_setting", "missing_results", "model_identity", "runs_of"]
