"""Study files: loading, the errors that name file and field, recipe hashes, and which models still need a
run (real runs of the tiny model and a changed copy of it)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from harness.analysis.study import Recipe, StudyError, StudyEval, load_study
from harness.analysis.study_runs import missing_results
from harness.run.runner import RunConfig, run
from tests.conftest import REPO_ROOT

GOOD = """\
name: demo
models:
  - {name: base, model: models/base, role: base}
  - {name: math, model: models/math, role: expert, parents: [base]}
  - {name: lang, model: models/lang, role: expert, parents: [base]}
  - name: swap
    model: models/swap
    role: merged
    parents: [math, lang]
    recipe: "layers 0-3 from lang"
eval: {tasks: [xnli, mgsm], langs: [en, de], limit: 5}
"""


def _write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_study_loads() -> None:
    study = load_study(REPO_ROOT / "studies" / "example.yaml")
    assert [model.role for model in study.models] == ["base", "expert", "expert", "merged"]
    merged = study.models[-1]
    assert merged.parents == ("math-expert", "german-expert")
    assert merged.recipe is not None and merged.recipe.kind == "text"
    assert study.eval.tasks == ("mgsm", "xnli") and study.eval.limit == 50


def test_a_study_has_names_roles_parents_and_hashed_recipes(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path, GOOD))
    assert study.name == "demo" and [m.name for m in study.models] == ["base", "math", "lang", "swap"]
    swap = study.model("swap")
    assert swap.parents == ("math", "lang")
    assert swap.recipe == Recipe("text", "layers 0-3 from lang", hashlib.sha256(b"layers 0-3 from lang").hexdigest())
    assert study.eval == StudyEval(tasks=("xnli", "mgsm"), langs=("en", "de"), limit=5)


def test_a_recipe_file_is_hashed_by_its_bytes(tmp_path: Path) -> None:
    recipe = tmp_path / "swap.yaml"
    recipe.write_bytes(b"merge_method: layer_swap\nlayers: [0, 1, 2, 3]\n")
    study = load_study(_write(tmp_path, GOOD.replace('recipe: "layers 0-3 from lang"', f"recipe_file: {recipe}")))
    assert study.model("swap").recipe == Recipe("file", str(recipe), hashlib.sha256(recipe.read_bytes()).hexdigest())


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("role: merged", "role: soup"), "models[3].role", "'soup' is not one of base, expert, merged"),
        (("parents: [math, lang]", "parents: [math, llama]"), "models[3].parents[1]", "no model named 'llama'"),
        (("parents: [math, lang]", "parents: []"), "models[3].parents", "a merged model needs its parents"),
        (("{name: lang,", "{name: math,"), "models[2].name", "'math' is already models[1]"),
        (("role: base}", "role: base, parents: [math]}"), "models[0].parents", "a base model has no parents"),
        (("role: expert, parents: [base]}\n  - {name: lang", "role: expert, parents: [swap]}\n  - {name: lang"),
         "models[1].parents", "'math' is its own ancestor"),
        (("    recipe:", "    recipe_file: nowhere.yaml\n    recipe:"), "models[3].recipe", "not both"),
        (('    recipe: "layers 0-3 from lang"', "    recipe_file: nowhere.yaml"), "models[3].recipe_file",
         "file not found: nowhere.yaml"),
        (("model: models/swap", "modle: models/swap"), "models[3].modle", "unknown field"),
        (("{name: base, model: models/base, role: base}", "{name: base, role: base}"), "models[0].model", "missing"),
        (("limit: 5", "limit: -5"), "eval.limit", "must be a whole number >= 1"),
        (("limit: 5", "limit: 5, limit_mode: random"), "eval.limit_mode", "must be one of sample, first"),
        (("limit: 5", "limit: 5, limit_seed: -1"), "eval.limit_seed", "must be a whole number >= 0"),
        (("langs: [en, de]", "langs: []"), "eval.langs", "must be a non-empty list"),
        (("eval: {", "evaluate: {"), "evaluate", "unknown field"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_the_field(tmp_path: Path, change: tuple[str, str], field: str, message: str) -> None:
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(StudyError) as caught:
        load_study(path)
    assert str(caught.value).startswith(f"{path}: {field}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [\n  {name: a\n", "line "),
        ("- just\n- a list\n", "top level: must be a mapping"),
        ("name: empty\nmodels: []\n", "models: must be a non-empty list of models"),
    ],
)
def test_unreadable_study_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(StudyError) as caught:
        load_study(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)
    with pytest.raises(StudyError, match="study file not found"):
        load_study(tmp_path / "missing.yaml")


def _train(model: Path) -> None:
    """Change one tensor of a model folder in place."""
    tensors = load_file(model / "model.safetensors")
    name = next(n for n in sorted(tensors) if n.endswith("mlp.down_proj.weight"))
    tensors[name] = tensors[name] * 0.5
    save_file(tensors, model / "model.safetensors", metadata={"format": "pt"})


@pytest.mark.slow
def test_models_without_complete_results_are_the_ones_to_evaluate(tiny_model, data_dir, tmp_path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # see tests/test_tables.py: the tiny model is far faster on one thread here
    try:
        expert = shutil.copytree(tiny_model, tmp_path / "expert")
        _train(expert)  # other weights than the base's (a copy would share its fingerprint, and so its results)
        study = load_study(_write(tmp_path, f"""\
models:
  - {{name: base, model: {tiny_model}, role: base}}
  - {{name: expert, model: {expert}, role: expert, parents: [base]}}
eval: {{tasks: [xnli], langs: [en, de], limit: 2}}
"""))  # fmt: skip
        out = tmp_path / "results"
        assert [m.name for m in missing_results(study, out)] == ["base", "expert"]  # no results folder yet

        def evaluate(model: Path, languages: tuple[str, ...] = ("en", "de"), limit: int = 2, **sample: Any) -> None:
            run(RunConfig(model=str(model), tasks=("xnli",), languages=languages, limit=limit, data_dir=data_dir,
                          out_dir=out, backend_options={"progress": False}, **sample))  # fmt: skip

        evaluate(tiny_model)
        assert [m.name for m in missing_results(study, out)] == ["expert"]
        evaluate(expert, languages=("en",))  # not every language of the study
        evaluate(expert, limit=1)  # another LIMIT
        evaluate(expert, limit_seed=7)  # the same LIMIT, other items
        evaluate(expert, limit_mode="first")  # the same LIMIT, lm-eval's first items
        assert [m.name for m in missing_results(study, out)] == ["expert"]
        evaluate(expert)
        assert missing_results(study, out) == []
        other = StudyEval(tasks=("xnli",), langs=("en", "de", "fr"), limit=2)
        assert [m.name for m in missing_results(study, out, other)] == ["base", "expert"]
        first = StudyEval(tasks=("xnli",), langs=("en", "de"), limit=2, limit_mode="first")
        assert [m.name for m in missing_results(study, out, first)] == ["base"]

        _train(expert)  # the expert is re-trained: its old results are stale
        assert [m.name for m in missing_results(study, out)] == ["expert"]
    finally:
        torch.set_num_threads(before)
