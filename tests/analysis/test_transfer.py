"""Score and delta tables on stored runs (``harness.analysis.transfer``): the recorded scores, means and the
transfer gap, and deltas paired by item id against a hand-written bootstrap."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.table_model import Bootstrap, Table, TableError
from harness.analysis.table_runs import comparable_groups, load_runs
from harness.analysis.tables import transfer_tables
from harness.analysis.transfer import delta_table, score_table
from harness.records.io import StoredRun
from tests.fixtures import FIXTURE_RUNS

BOOT = Bootstrap(resamples=300, seed=2024)
LINEAGE = ("base", "math", "lang", "merged")
OTHERS = ("deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans")


def _runs(*shorts: str) -> list[StoredRun]:
    return load_runs([FIXTURE_RUNS[short] for short in shorts])


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    return transfer_tables(_runs(*LINEAGE), ["sib200"], ["acc"], settings=BOOT)


def _table(tables: list[Table], kind: str) -> Table:
    (found,) = [table for table in tables if table.kind == kind]
    return found


def _cell(table: Table, row: str, column: str):
    found = next(r for r in table.rows if r.name == row)
    return found.cells[next(i for i, c in enumerate(table.columns) if c.key == column)]


def item_scores(short: str, task: str, code: str, key: str) -> dict[str, float]:
    """Per-item scores read straight from a stored run's samples.jsonl."""
    found = {}
    for line in (FIXTURE_RUNS[short] / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["task"] == task and record["language"] == code:
            found[record["id"]] = record["scores"][key]
    return found


def test_scores_are_the_recorded_values_with_mean_and_gap(tables) -> None:
    table = _table(tables, "scores")
    assert [row.name for row in table.rows] == list(LINEAGE)
    assert [c.key for c in table.columns] == ["eng_Latn", "zho_Hans", "fra_Latn", "deu_Latn", "swh_Latn", "mean", "gap"]
    for short in LINEAGE:
        stored = json.loads((FIXTURE_RUNS[short] / "results.json").read_text())["tasks"][0]["languages"]
        for code in ("eng_Latn", *OTHERS):
            metric = stored[code]["metrics"]["acc"]
            assert (_cell(table, short, code).value, _cell(table, short, code).stderr) == (
                metric["value"], metric["stderr"])  # fmt: skip
        others = [_cell(table, short, code) for code in OTHERS]
        mean, mean_se = sum(c.value for c in others) / 4, math.sqrt(sum(c.stderr**2 for c in others)) / 4
        assert _cell(table, short, "mean").value == pytest.approx(mean)
        assert _cell(table, short, "mean").stderr == pytest.approx(mean_se)
        english = _cell(table, short, "eng_Latn")
        assert _cell(table, short, "gap").value == pytest.approx(english.value - mean)
        assert _cell(table, short, "gap").stderr == pytest.approx(math.sqrt(english.stderr**2 + mean_se**2))
    assert table.notes[0] == "sib200 v1 prompt_1 test" and str(table.unit) == "fraction"


def test_a_row_missing_a_language_has_no_mean() -> None:
    (group,) = comparable_groups(_runs("base", "base_lora"), "sib200", "acc")
    table = score_table(group.entries, "acc", notes=group.notes)
    lora = next(row for row in table.rows if "+lora" in row.name)
    cells = dict(zip((c.key for c in table.columns), lora.cells, strict=True))
    assert cells["fra_Latn"] is None and cells["mean"] is None and cells["deu_Latn"] is not None
    assert f"{lora.name}: some languages missing, so no mean or gap" in table.notes


def _bootstrap(mine: list[float], theirs: list[list[float]], seed: int = BOOT.seed) -> np.ndarray:
    """Resampled mine − max(theirs) by hand: the draws scipy.stats.bootstrap makes for paired data."""
    draws = np.random.default_rng(seed).integers(0, len(mine), (BOOT.resamples, len(mine)))
    best = np.max([np.asarray(t)[draws].mean(axis=1) for t in theirs], axis=0)
    return np.asarray(mine)[draws].mean(axis=1) - best


def test_deltas_vs_base_are_paired_by_item_id(tables) -> None:
    table, scores = _table(tables, "deltas"), _table(tables, "scores")
    assert [row.name for row in table.rows] == list(LINEAGE[1:]) and {row.versus for row in table.rows} == {"base"}
    for short in LINEAGE[1:]:
        for code in ("eng_Latn", *OTHERS):
            mine, base = item_scores(short, "sib200", code, "acc"), item_scores("base", "sib200", code, "acc")
            ids = sorted(mine)
            assert ids == sorted(base)
            cell = _cell(table, short, code)
            assert cell.versus == "base"
            assert cell.value == pytest.approx(_cell(scores, short, code).value - _cell(scores, "base", code).value)
            resampled = _bootstrap([mine[i] for i in ids], [[base[i] for i in ids]])
            assert cell.stderr == pytest.approx(float(np.std(resampled, ddof=1)), abs=1e-12)
            assert (cell.low, cell.high) == pytest.approx(tuple(np.percentile(resampled, [2.5, 97.5])), abs=1e-12)


def test_no_delta_table_without_a_base_or_with_two() -> None:
    (group,) = comparable_groups(_runs("math", "lang"), "sib200", "acc")
    assert delta_table(group.entries, "acc", BOOT) is None
    (group,) = comparable_groups(_runs("base", "other_base"), "sib200", "acc")
    relabelled = [dataclasses.replace(e, run=dataclasses.replace(e.run, role="base")) for e in group.entries]
    with pytest.raises(TableError, match="several base models"):
        delta_table(relabelled, "acc", BOOT)


def test_seeded_limits_of_two_sizes_are_one_setting_paired_on_shared_items() -> None:
    """A seeded LIMIT 6 is nested in the LIMIT 12 of the same seed (comparability: one setting): the delta is
    computed on the six items both runs evaluated."""
    (base_limit,) = _runs("base_limit")
    folder, math_run = _runs("math")[0]
    task = dataclasses.replace(math_run.tasks[0], limit=12, limit_mode="sample", limit_seed=1234, limit_sampler=1)
    limited = (folder, dataclasses.replace(math_run, tasks=[task]))
    tables = transfer_tables([base_limit, limited], ["sib200"], ["acc"], settings=BOOT)
    scores, deltas = _table(tables, "scores"), _table(tables, "deltas")
    assert [row.limit for row in scores.rows] == [6, 12]
    assert any(note.startswith("LIMITs differ (base: 6, math: 12)") for note in scores.notes)
    mine, base = (
        item_scores("math", "sib200", "deu_Latn", "acc"),
        item_scores("base_limit", "sib200", "deu_Latn", "acc"),
    )
    ids = sorted(base)
    assert len(ids) == 6 and set(ids) < set(mine)
    cell = _cell(deltas, "math", "deu_Latn")
    assert cell.value == pytest.approx(np.mean([mine[i] for i in ids]) - np.mean([base[i] for i in ids]))
    resampled = _bootstrap([mine[i] for i in ids], [[base[i] for i in ids]])
    assert (cell.low, cell.high) == pytest.approx(tuple(np.percentile(resampled, [2.5, 97.5])), abs=1e-12)
    assert any("paired on the items all of them evaluated (3 languages" in note for note in deltas.notes)


def test_without_samples_the_scores_stand_and_the_paired_tables_say_why(tmp_path: Path) -> None:
    folders = [shutil.copytree(FIXTURE_RUNS[short], tmp_path / short) for short in ("base", "merged")]
    (folders[1] / "samples.jsonl").unlink()
    (scores,) = transfer_tables(load_runs(folders), ["sib200"], ["acc"], settings=BOOT)
    assert scores.kind == "scores" and len(scores.rows) == 2
    assert any(note.startswith("no deltas table: ") and "samples.jsonl: missing" in note for note in scores.notes)
    assert "no merge gain table: merged: no merge gain, parents without comparable results: math, lang" in scores.notes
