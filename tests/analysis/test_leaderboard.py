"""The leaderboard on real runs of the tiny model: two other models (two perturbed copies: a plain copy has the
same weights, so it is the same model), a second 0-shot run that supersedes the first, a 2-shot run and a
LIMIT 4 run (their own columns), a run on a changed data file (a split column), a real lm-eval results file,
and malformed files (reported, skipped).

``results_tree`` builds that folder once per session; the browser test uses it too.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import leaderboard
from harness.analysis import lmeval_import as leaderboard_lmeval
from harness.api.registry import get_task
from harness.backends import GenerationParams, create_backend
from harness.cli import leaderboard as command
from harness.errors import ConfigError, XlhError
from harness.run.runner import RunConfig, run
from harness.run.sampling import limit_examples
from tests.parity.lmeval_helpers import lmeval_yaml

pytestmark = pytest.mark.slow  # runs lm-eval and six xlh runs (about a minute in all)

LANGS = ("en", "de", "sw")
LIMIT = 6
XNLI = "xnli:sentence@validation 0-shot LIMIT 6"
SIB = "sib200:prompt_1@test 0-shot LIMIT 6"


@dataclass
class Tree:
    root: Path
    runs: dict[str, Path]  # name -> run folder
    lmeval_file: Path
    broken: list[Path]
    task_manager: Any  # lm-eval's TaskManager (its task index, for the mapping test)
    models: dict[str, str]  # a, b, c -> display name


_TREES: dict[Path, Tree] = {}


def _perturbed_copy(model: Path, out: Path, seed: int = 1) -> Path:
    """The tiny model with a different output layer: another model with other scores."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(model, out)
    weights = load_file(out / "model.safetensors")
    noise = torch.Generator().manual_seed(seed)
    weights["lm_head.weight"] += 0.2 * torch.randn(weights["lm_head.weight"].shape, generator=noise)
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    return out


def _changed_data(data_dir: Path, out: Path) -> Path:
    """The data folder with one German XNLI validation premise edited (same row count, another SHA-256)."""
    out.mkdir()
    for child in data_dir.iterdir():
        if child.name != "xnli":
            (out / child.name).symlink_to(child)
    xnli = out / "xnli"
    xnli.mkdir()
    for child in (data_dir / "xnli").iterdir():
        if child.name != "xtreme":
            (xnli / child.name).symlink_to(child)
    (xnli / "xtreme").mkdir()
    for child in (data_dir / "xnli" / "xtreme").iterdir():
        if child.name != "dev-de.tsv":
            (xnli / "xtreme" / child.name).symlink_to(child)
    lines = (data_dir / "xnli" / "xtreme" / "dev-de.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = lines[0].replace("Mama", "Papa", 1)
    (xnli / "xtreme" / "dev-de.tsv").write_text("".join(lines), encoding="utf-8")
    return out


def _lmeval(model: Path, data_dir: Path, work: Path, out: Path) -> tuple[Path, Any]:
    """lm-eval 0.4.13 on its own xnli_<lang> YAMLs (dataset pointed at the same local documents), saved by
    its EvaluationTracker exactly as ``lm_eval --output_path`` saves results."""
    import lm_eval
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    tasks = Path(lm_eval.__file__).parent / "tasks"
    xnli = get_task("xnli")
    work.mkdir()
    for code in LANGS:
        every = xnli.load_local(data_dir, xnli.language(code), "validation")
        examples = limit_examples(every, LIMIT, "sample", 1234, "xnli", xnli.stratum)  # the items xlh's LIMIT takes
        data = work / f"xnli_{code}.jsonl"
        data.write_text("".join(json.dumps(vars(e), ensure_ascii=False) + "\n" for e in examples), encoding="utf-8")
        lmeval_yaml(work, f"xnli_{code}", tasks / "xnli" / f"xnli_{code}.yaml", "validation", data)
    manager = TaskManager(include_path=str(work))
    tracker = EvaluationTracker(output_path=str(out))
    results = simple_evaluate(
        model="hf",
        model_args={"pretrained": str(model), "dtype": "float32"},
        tasks=[f"xnli_{code}" for code in LANGS],
        task_manager=manager,
        batch_size=8,
        device="cpu",
        limit=LIMIT,
        evaluation_tracker=tracker,
    )
    tracker.save_results_aggregated(results=results, samples=None)
    (written,) = out.rglob("results_*.json")
    return written, manager


def results_tree(factory: pytest.TempPathFactory, tiny_model: Path, data_dir: Path) -> Tree:
    """The results folder of this module's docstring (built once per session)."""
    base = factory.getbasetemp()
    if base in _TREES:
        return _TREES[base]
    work = factory.mktemp("leaderboard-work")
    root = factory.mktemp("leaderboard-results")
    merged = _perturbed_copy(tiny_model, work / "tiny-merged")
    copy = _perturbed_copy(tiny_model, work / "tiny-copy", seed=2)
    options = {"batch_size": 8, "progress": False}
    engines = {model: create_backend("hf", str(model), GenerationParams(), **options) for model in (tiny_model, merged)}

    def evaluate(model: Path, tasks: tuple[str, ...], **config: Any) -> Path:
        settings: dict[str, Any] = {"languages": LANGS, "limit": LIMIT, "data_dir": data_dir, **config}
        engine = engines.get(model) or create_backend("hf", str(model), GenerationParams(), **options)
        return run(RunConfig(model=str(model), tasks=tasks, out_dir=root, **settings), backend=engine).folder

    runs = {
        "a1": evaluate(tiny_model, ("xnli@validation", "sib200"), role="base"),
        "b1": evaluate(merged, ("xnli@validation", "sib200"), role="merged", parents=(str(tiny_model),)),
        "a2": evaluate(tiny_model, ("xnli@validation",), shots=2, role="base"),
        "a3": evaluate(tiny_model, ("xnli@validation",), role="base"),  # supersedes a1's xnli
        "b2": evaluate(merged, ("xnli@validation",), limit=4, languages=("en", "de"), role="merged"),
        "c1": evaluate(copy, ("xnli@validation",), data_dir=_changed_data(data_dir, work / "data")),
    }
    lmeval_file, manager = _lmeval(tiny_model, data_dir, work / "lmeval-yaml", root / "lm-eval")

    # A truncated results.json and one whose languages lost their metrics: reported by name, skipped.
    text = (runs["a1"] / "results.json").read_text(encoding="utf-8")
    broken = [root / "broken-model" / "20260101-000000-aaaaaa" / "results.json"]
    broken[0].parent.mkdir(parents=True)
    broken[0].write_text(text[: len(text) // 2], encoding="utf-8")
    doc = json.loads(text)
    for language in doc["tasks"][0]["languages"].values():
        del language["metrics"]
    broken.append(root / "odd-model" / "20260101-000000-bbbbbb" / "results.json")
    broken[1].parent.mkdir(parents=True)
    broken[1].write_text(json.dumps(doc), encoding="utf-8")
    # A partial run (staging folder of a run still writing, or killed): never read.
    partial = runs["a1"].parent / ".20260101-000000-cccccc.partial"
    shutil.copytree(runs["a1"], partial)
    doc = json.loads(text)
    doc["model"]["name_or_path"] = "partial-model"
    (partial / "results.json").write_text(json.dumps(doc), encoding="utf-8")

    models = {"a": tiny_model.name, "b": "tiny-merged", "c": "tiny-copy", "lmeval": f"{tiny_model.name} (lm-eval)"}
    _TREES[base] = Tree(root, runs, lmeval_file, broken, manager, models)
    return _TREES[base]


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, data_dir: Path) -> Tree:
    return results_tree(tmp_path_factory, tiny_model, data_dir)


@pytest.fixture(scope="session")
def board(tree: Tree) -> leaderboard.Leaderboard:
    return leaderboard.build(tree.root)


def _column(board: leaderboard.Leaderboard, label: str) -> leaderboard.BoardColumn:
    found = [c for c in board.columns if c.label == label]
    assert len(found) == 1, [c.label for c in board.columns]
    return found[0]


def _row(board: leaderboard.Leaderboard, display: str) -> leaderboard.BoardRow:
    (row,) = [r for r in board.rows if r.display == display]
    return row


def _headline(run_folder: Path, task: str) -> dict[str, tuple[str, float]]:
    """code -> (FLORES code, headline value), read straight from a results.json."""
    doc = json.loads((run_folder / "results.json").read_text(encoding="utf-8"))
    (entry,) = [t for t in doc["tasks"] if t["name"] == task]
    metric = entry["metrics"][0]
    return {code: (lang["flores"], lang["metrics"][metric]["value"]) for code, lang in entry["languages"].items()}


def test_columns_separate_shots_limit_data_and_harness(board: leaderboard.Leaderboard, tree: Tree) -> None:
    labels = [c.label for c in board.columns]
    assert labels == [
        SIB,
        "xnli:sentence@validation 0-shot LIMIT 4",
        f"{XNLI} · data #1",
        f"{XNLI} · data #2",
        "xnli:sentence@validation 2-shot LIMIT 6",
        f"{XNLI} · lm-eval",
    ]
    m = tree.models
    members = {c.label: sorted(e.display for e in c.entries.values()) for c in board.columns}
    assert members[f"{XNLI} · data #1"] == sorted([m["a"], m["b"]])
    assert members[f"{XNLI} · data #2"] == [m["c"]]  # read the edited German file
    assert members["xnli:sentence@validation 2-shot LIMIT 6"] == [m["a"]]
    assert members["xnli:sentence@validation 0-shot LIMIT 4"] == [m["b"]]
    assert members[f"{XNLI} · lm-eval"] == [m["lmeval"]]
    split = [w for w in board.warnings if "different data files" in w]
    assert len(split) == 1 and "for de;" in split[0], board.warnings
    two_shot = _column(board, "xnli:sentence@validation 2-shot LIMIT 6").config
    assert (two_shot.shots, two_shot.shot_seed, two_shot.limit) == (2, 1234, 6)


def test_summaries_match_a_direct_computation(board: leaderboard.Leaderboard, tree: Tree) -> None:
    for label, run_name, task in ((f"{XNLI} · data #1", "a3", "xnli"), (SIB, "b1", "sib200")):
        column = _column(board, label)
        expected = _headline(tree.runs[run_name], task)
        (entry,) = [e for e in column.entries.values() if e.run_id == tree.runs[run_name].name]
        summary = column.summaries[entry.model]
        english = [v for flores, v in expected.values() if flores == "eng_Latn"]
        others = [v for flores, v in expected.values() if flores != "eng_Latn"]
        assert len(english) == 1 and len(others) == 2
        assert summary.mean == pytest.approx(statistics.fmean(v for _, v in expected.values()))
        assert summary.english == pytest.approx(english[0])
        assert summary.non_english == pytest.approx(statistics.fmean(others))
        assert summary.gap == pytest.approx(english[0] - statistics.fmean(others))
        assert not summary.partial
    # b2 ran two of three languages: its column has only those, so it is complete there.
    assert _column(board, "xnli:sentence@validation 0-shot LIMIT 4").summaries[
        _row(board, tree.models["b"]).model
    ].languages == ("de", "en")


def test_latest_run_per_model_and_configuration(board: leaderboard.Leaderboard, tree: Tree) -> None:
    runs = {name: folder.name for name, folder in tree.runs.items()}
    a = _row(board, tree.models["a"])
    assert _column(board, f"{XNLI} · data #1").entries[a.model].run_id == runs["a3"]
    assert _column(board, SIB).entries[a.model].run_id == runs["a1"]  # a3 had no SIB: a1 still counts
    assert sorted(a.runs) == sorted([runs["a1"], runs["a2"], runs["a3"]])
    assert [(e.run_id, e.config.task) for e in board.superseded] == [(runs["a1"], "xnli")]
    assert a.role == "base" and _row(board, tree.models["b"]).role == "merged"


def test_lmeval_scores_are_imported_by_task_name(board: leaderboard.Leaderboard, tree: Tree) -> None:
    column = _column(board, f"{XNLI} · lm-eval")
    (entry,) = column.entries.values()
    assert entry.path == tree.lmeval_file and entry.harness == "lm-eval 0.4.13"
    assert entry.model.weights.startswith("lm-eval:") and column.config.setting.harness == "lm-eval"
    assert (entry.config.split, entry.config.version, entry.config.metric) == ("validation", "lm-eval v1.0", "acc")
    raw = json.loads(tree.lmeval_file.read_text(encoding="utf-8"))["results"]
    assert {code: s.value for code, s in entry.languages.items()} == {c: raw[f"xnli_{c}"]["acc,none"] for c in LANGS}
    assert {s.n for s in entry.languages.values()} == {LIMIT}
    assert entry.languages["en"].stderr == pytest.approx(raw["xnli_en"]["acc_stderr,none"])
    # The same documents and model: lm-eval's acc is xlh's (tests/parity checks it per sample).
    ours = _column(board, f"{XNLI} · data #1").entries[_row(board, tree.models["a"]).model]
    assert {c: s.value for c, s in entry.languages.items()} == {c: s.value for c, s in ours.languages.items()}


def test_lmeval_table_matches_lmeval_task_configs(tree: Tree) -> None:
    """Every task family of LMEVAL_TASKS exists in lm-eval 0.4.13 under that name, on that dataset and split,
    with that headline metric and filter, and all its languages of that dataset are languages of the xlh task;
    same-named tasks on other data (lm-eval's ``xnli_ca`` is projecte-aina's Catalan XNLI) are not imported."""
    index = tree.task_manager.task_index
    redirected = {f"xnli_{code}" for code in LANGS}  # this session's copies, on local JSON documents
    for spec in leaderboard_lmeval.LMEVAL_TASKS:
        imported = 0
        for name in (n for n in tree.task_manager.all_subtasks if spec.pattern.fullmatch(n)):
            config, match = index[name].cfg, spec.pattern.fullmatch(name)
            assert match is not None
            try:
                code, flores, _ = leaderboard_lmeval._lmeval_language(spec, match, config)
            except ConfigError:
                assert config["dataset_path"] != spec.dataset, name  # another benchmark of the same name
                continue
            imported += 1
            assert config["dataset_path"] == ("json" if name in redirected else spec.dataset), name
            filters = [f["name"] for f in config.get("filter_list") or [{"name": "none"}]]
            keys = {f"{m['metric']},{f}" for m in config["metric_list"] for f in filters}
            assert spec.metrics[0][0] in keys, (name, keys)
            assert (config.get("test_split") or config.get("validation_split")) == spec.split, name
            if spec.task in ("belebele", "sib200"):
                assert flores == config["dataset_name"], name
        assert imported >= 10, spec


def test_malformed_files_are_named_and_skipped(board: leaderboard.Leaderboard, tree: Tree) -> None:
    assert sorted(p.path for p in board.problems) == sorted(tree.broken)
    messages = {p.path: p.message for p in board.problems}
    assert messages[tree.broken[0]].startswith("not valid JSON")
    # The reader's message (harness.records.io), with the field's whole path.
    missing = r"results schema 4: missing field 'tasks\[0\]\.languages\.\w+\.metrics'"
    assert re.fullmatch(missing, messages[tree.broken[1]]), messages[tree.broken[1]]
    assert len(board.rows) == 4  # the broken files' models and the partial run's are not rows
    assert "partial-model" not in {r.name_or_path for r in board.rows}
    assert board.files_read == 7  # six xlh runs, one lm-eval file


def test_outputs_written_and_rebuilt_identically(board: leaderboard.Leaderboard, tree: Tree, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    paths = command.write(board, out)
    assert [p.name for p in paths] == list(command.OUTPUTS)
    first = {p.name: p.read_bytes() for p in paths}
    command.write(leaderboard.build(tree.root), out)
    assert {p.name: p.read_bytes() for p in paths} == first  # deterministic: no clock in the outputs
    assert sorted(p.name for p in out.iterdir()) == sorted(command.OUTPUTS)  # no temporary file left

    markdown = first["leaderboard.md"].decode()
    for broken in tree.broken:
        assert f"`{broken.relative_to(tree.root)}`" in markdown
    assert "## Warnings" in markdown and "different data files for de" in markdown
    assert f"## {XNLI} · lm-eval" in markdown

    rows = list(csv.DictReader(first["leaderboard.csv"].decode().splitlines()))
    assert [r["model"] for r in rows] == [r.display for r in board.rows]
    a = next(r for r in rows if r["model"] == tree.models["a"])
    expected = _headline(tree.runs["a3"], "xnli")
    assert float(a[f"{XNLI} · data #1 · acc · mean"]) == pytest.approx(
        statistics.fmean(v for _, v in expected.values())
    )
    assert float(a[f"{XNLI} · data #1 · acc · de"]) == pytest.approx(expected["de"][1])
    assert a["xnli:sentence@validation 0-shot LIMIT 4 · acc · mean"] == ""  # a was not run there

    html = first["leaderboard.html"].decode()
    assert html.count('class="heatmap"') == len(board.columns) and 'id="transfer-gap"' in html
    assert "<script src" not in html and "http" not in html.split("<body>")[1]  # nothing loaded from anywhere


def test_cli_entry_names_skipped_files(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(tree.root) == 0
    captured = capsys.readouterr()
    for broken in tree.broken:
        assert f"skipped {broken}" in captured.err
    assert captured.out.split() == [str(tree.root / name) for name in command.OUTPUTS]


def test_no_results_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "m" / "r").mkdir(parents=True)
    (tmp_path / "m" / "r" / "results.json").write_text("{", encoding="utf-8")
    with pytest.raises(XlhError, match=r"no results under .*\n.*results.json: not valid JSON"):
        leaderboard.build(tmp_path)
    with pytest.raises(XlhError, match="does not exist"):
        leaderboard.build(tmp_path / "missing")


def test_same_names_told_apart_and_schema_1_read(tree: Tree, tmp_path: Path) -> None:
    """A retrained model in the same folder (another fingerprint) is another row, named with the start of its
    fingerprint (``comparability.distinct_names``); a results.json of schema 1 (no shot_seed/shots_from, no
    metric units) still reads. The same weights under another name would be the same model: the old run has
    other weights here."""
    doc = json.loads((tree.runs["a3"] / "results.json").read_text(encoding="utf-8"))
    retrained = json.loads(json.dumps(doc))
    retrained["model"]["fingerprint"] = "f" * 64
    retrained["run_id"] = "20990101-000000-ffffff"
    old = json.loads(json.dumps(doc))
    old["schema_version"] = 1
    old["model"]["name_or_path"] = "models/old-model"
    old["model"]["fingerprint"] = "e" * 64
    for task in old["tasks"]:
        del task["shot_seed"], task["shots_from"]
        for language in task["languages"].values():
            for metric in language["metrics"].values():
                del metric["unit"]
    for folder, content in (("a/1", doc), ("a/2", retrained), ("old/1", old)):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "results.json").write_text(json.dumps(content), encoding="utf-8")
    board = leaderboard.build(tmp_path)
    assert not board.problems
    displays = sorted(row.display for row in board.rows)
    assert displays == sorted(
        [
            f"{tree.models['a']} [{doc['model']['fingerprint'][:7]}]",
            f"{tree.models['a']} [fffffff]",
            "models/old-model",
        ]
    )
    (column,) = board.columns  # same task configuration, same data: one column for all three
    assert column.config.unit == "fraction" and column.label == XNLI
    assert len({summary.mean for summary in column.summaries.values()}) == 1


def test_xlh_leaderboard_command(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.main import main as xlh

    assert xlh(["leaderboard", "--results", str(tree.root)]) == 0
    assert capsys.readouterr().out.split() == [str(tree.root / name) for name in command.OUTPUTS]
    assert xlh(["leaderboard", "--results", str(tree.root / "missing")]) == 2


def test_another_limit_sample_is_another_column(tree: Tree, tmp_path: Path) -> None:
    """The same LIMIT drawn as lm-eval's first N (or with another seed) scored other items: its own column."""
    root = tmp_path / "results"
    seeded = root / "tiny" / tree.runs["a3"].name
    shutil.copytree(tree.runs["a3"], seeded)
    for name, mode, seed in (("first", "first", None), ("seed7", "sample", 7)):
        other = shutil.copytree(tree.runs["a3"], root / f"tiny-{name}" / tree.runs["a3"].name)
        results = json.loads((other / "results.json").read_text())
        results["tasks"][0].update(limit_mode=mode, limit_seed=seed)
        (other / "results.json").write_text(json.dumps(results))
    board = leaderboard.build(root)
    labels = sorted(column.label for column in board.columns)
    assert [label.split(" v")[0] for label in labels] == [f"{XNLI} (first)", f"{XNLI} (seed 1234)", f"{XNLI} (seed 7)"]
