"""Study files: the models of one experiment, their roles and lineage (``studies/<name>.yaml``).

A study names each model once (the name tables show), says what it is (``base``, ``expert`` or ``merged``),
which models of the study it came from (``parents``) and, for a merge, how it was made (``recipe``, a string,
or ``recipe_file``, a file; either is hashed into the results). ``eval`` holds the study's default
selection for ``make eval STUDY=...``, which evaluates every model that has no complete results yet::

    name: layer-swap-demo
    description: Layer swapping of a math expert and a German expert (Bandarkar et al. 2024)
    models:
      - name: base
        model: models/tiny-random          # a folder, a Hub id or a short name, as for `xlh eval --model`
        role: base
      - name: math-expert
        model: models/math-expert
        role: expert
        parents: [base]
      - name: swapped
        model: models/swapped
        role: merged
        parents: [math-expert, german-expert]
        recipe_file: studies/recipes/swap.yaml  # or recipe: "layers 0-3 and 28-31 from german-expert"
    eval:
      tasks: [mgsm, xnli]
      langs: [en, de, sw]
      limit: 50

Paths (``model``, ``recipe_file``) are read as on the command line: relative to the current folder (the
repository root for ``make``). Errors name the study file and the field at fault (``models[2].parents``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import XlhError
from harness.records.schema import Recipe
from harness.run.sampling import DEFAULT_LIMIT_MODE, DEFAULT_LIMIT_SEED, LIMIT_MODES
from harness.seeds import DEFAULT_SEED

ROLES = ("base", "expert", "merged")
STUDY_KEYS = {"name", "description", "models", "eval"}
MODEL_KEYS = {"name", "model", "role", "parents", "recipe", "recipe_file", "merge", "revision", "description"}
EVAL_KEYS = {"tasks", "langs", "limit", "limit_mode", "limit_seed", "shots", "shots_from", "shot_seed"}


class StudyError(XlhError):
    """A study file that cannot be used: the message names the file and the field."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")
        self.path = Path(path)
        self.where = where


@dataclass(frozen=True)
class StudyModel:
    name: str  # display name, unique in the study
    model: str  # folder, Hub id or short name (``xlh eval --model``)
    role: str
    parents: tuple[str, ...] = ()  # names of other models of the study
    recipe: Recipe | None = None
    revision: str | None = None
    description: str = ""
    merge: str | None = None  # a recipe file (``xlh merge``) that builds ``model`` when it is missing or stale


@dataclass(frozen=True)
class StudyEval:
    """The study's default selection for ``make eval STUDY=...`` (None: the command line's or xlh's default)."""

    tasks: tuple[str, ...] | None = None
    langs: tuple[str, ...] | None = None
    limit: int | None = None
    limit_mode: str = DEFAULT_LIMIT_MODE
    limit_seed: int = DEFAULT_LIMIT_SEED
    shots: int = 0
    shots_from: str | None = None
    shot_seed: int = DEFAULT_SEED


@dataclass(frozen=True)
class Study:
    path: Path
    name: str
    models: tuple[StudyModel, ...]
    eval: StudyEval = field(default_factory=StudyEval)
    description: str = ""

    def model(self, name: str) -> StudyModel:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


# -- loading ----------------------------------------------------------------------------------------------
def load_study(path: Path | str) -> Study:
    """Read and check a study file; raises StudyError naming the file and field at fault."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise StudyError(path, "", "study file not found")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise StudyError(path, where, f"not valid YAML ({getattr(error, 'problem', None) or error})") from error
    except UnicodeDecodeError as error:
        raise StudyError(path, "", f"not valid UTF-8 ({error.reason})") from error
    return parse_study(document, path)


def parse_study(document: Any, path: Path) -> Study:
    """A Study from the parsed YAML document of ``path`` (checked as ``load_study`` does)."""
    top = _mapping(document, path, "", STUDY_KEYS)
    raw_models = top.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise StudyError(path, "models", "must be a non-empty list of models")
    models = [_model(entry, path, f"models[{index}]") for index, entry in enumerate(raw_models)]
    _check_names_and_parents(models, path)
    name = top.get("name", path.stem)
    return Study(
        path=path,
        name=_string(name, path, "name"),
        models=tuple(models),
        eval=_eval(top.get("eval"), path),
        description=_string(top.get("description", ""), path, "description", empty_ok=True),
    )


def _model(entry: Any, path: Path, where: str) -> StudyModel:
    raw = _mapping(entry, path, where, MODEL_KEYS)
    for required in ("name", "model", "role"):
        if required not in raw:
            raise StudyError(path, f"{where}.{required}", "missing")
    role = _string(raw["role"], path, f"{where}.role")
    if role not in ROLES:
        raise StudyError(path, f"{where}.role", f"{role!r} is not one of {', '.join(ROLES)}")
    parents = raw.get("parents", [])
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list):
        raise StudyError(path, f"{where}.parents", "must be a list of model names")
    parent_names = tuple(_string(p, path, f"{where}.parents[{i}]") for i, p in enumerate(parents))
    if role == "base" and parent_names:
        raise StudyError(path, f"{where}.parents", "a base model has no parents in its study")
    if role == "merged" and not parent_names:
        raise StudyError(path, f"{where}.parents", "a merged model needs its parents (the models it merges)")
    revision = raw.get("revision")
    merge = _merge(raw, role, path, where)
    return StudyModel(
        name=_string(raw["name"], path, f"{where}.name"),
        model=_string(raw["model"], path, f"{where}.model"),
        role=role,
        parents=parent_names,
        recipe=None if merge else _recipe(raw, path, where),  # a merge records its recipe from xlh-recipe.json
        revision=None if revision is None else _string(revision, path, f"{where}.revision"),
        description=_string(raw.get("description", ""), path, f"{where}.description", empty_ok=True),
        merge=merge,
    )


def _merge(raw: dict[str, Any], role: str, path: Path, where: str) -> str | None:
    if "merge" not in raw:
        return None
    file = _string(raw["merge"], path, f"{where}.merge")
    if "recipe" in raw or "recipe_file" in raw:
        raise StudyError(path, f"{where}.merge", "a model built from a merge recipe takes no recipe or recipe_file")
    if role != "merged":
        raise StudyError(path, f"{where}.merge", f"only a merged model is built from a recipe (role is {role!r})")
    if not Path(file).is_file():
        raise StudyError(path, f"{where}.merge", f"file not found: {file}")
    return file


def _recipe(raw: dict[str, Any], path: Path, where: str) -> Recipe | None:
    if "recipe" in raw and "recipe_file" in raw:
        raise StudyError(path, f"{where}.recipe", "give recipe (a string) or recipe_file (a path), not both")
    if "recipe" in raw:
        return Recipe.from_text(_string(raw["recipe"], path, f"{where}.recipe"))
    if "recipe_file" in raw:
        file = Path(_string(raw["recipe_file"], path, f"{where}.recipe_file"))
        if not file.is_file():
            raise StudyError(path, f"{where}.recipe_file", f"file not found: {file}")
        return Recipe.from_file(file)
    return None


def _check_names_and_parents(models: Sequence[StudyModel], path: Path) -> None:
    seen: dict[str, int] = {}
    for index, model in enumerate(models):
        if model.name in seen:
            raise StudyError(path, f"models[{index}].name", f"{model.name!r} is already models[{seen[model.name]}]")
        seen[model.name] = index
    for index, model in enumerate(models):
        for i, parent in enumerate(model.parents):
            if parent not in seen:
                known = ", ".join(seen)
                raise StudyError(path, f"models[{index}].parents[{i}]", f"no model named {parent!r} (known: {known})")
            if parent == model.name:
                raise StudyError(path, f"models[{index}].parents[{i}]", "a model cannot be its own parent")
    by_name = {model.name: model for model in models}
    for index, model in enumerate(models):  # lineage must be a tree going back in time, not a loop
        trail, todo = set(), list(model.parents)
        while todo:
            current = todo.pop()
            if current == model.name:
                raise StudyError(path, f"models[{index}].parents", f"{model.name!r} is its own ancestor")
            if current not in trail:
                trail.add(current)
                todo.extend(by_name[current].parents)


def _eval(raw: Any, path: Path) -> StudyEval:
    if raw is None:
        return StudyEval()
    data = _mapping(raw, path, "eval", EVAL_KEYS)
    return StudyEval(
        tasks=_string_list(data.get("tasks"), path, "eval.tasks"),
        langs=_string_list(data.get("langs"), path, "eval.langs"),
        limit=None if data.get("limit") is None else _int(data["limit"], path, "eval.limit", minimum=1),
        limit_mode=_limit_mode(data.get("limit_mode", DEFAULT_LIMIT_MODE), path),
        limit_seed=_int(data.get("limit_seed", DEFAULT_LIMIT_SEED), path, "eval.limit_seed", minimum=0),
        shots=_int(data.get("shots", 0), path, "eval.shots", minimum=0),
        shots_from=None if data.get("shots_from") is None else _string(data["shots_from"], path, "eval.shots_from"),
        shot_seed=_int(data.get("shot_seed", DEFAULT_SEED), path, "eval.shot_seed", minimum=0),
    )


def _limit_mode(value: Any, path: Path) -> str:
    if value not in LIMIT_MODES:
        raise StudyError(path, "eval.limit_mode", f"must be one of {', '.join(LIMIT_MODES)}, found {value!r}")
    return str(value)


def _mapping(value: Any, path: Path, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StudyError(path, where or "top level", f"must be a mapping (key: value), found {type(value).__name__}")
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise StudyError(path, f"{prefix}{unknown[0]}", f"unknown field; valid: {', '.join(sorted(allowed))}")
    return value


def _string(value: Any, path: Path, where: str, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise StudyError(path, where, f"must be a non-empty string, found {value!r}")
    return value.strip() if not empty_ok else value


def _string_list(value: Any, path: Path, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # "en,de,sw" as on the command line
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value:
        raise StudyError(path, where, "must be a non-empty list")
    return tuple(_string(item, path, f"{where}[{i}]") for i, item in enumerate(value))


def _int(value: Any, path: Path, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StudyError(path, where, f"must be a whole number >= {minimum}, found {value!r}")
    return value


# -- which models still need a run ---------------------------------------------------------------------------


__all__ = [
    "ROLES",
    "Recipe",
    "Study",
    "StudyError",
    "StudyEval",
    "StudyModel",
    "load_study",
    "parse_study",
]
