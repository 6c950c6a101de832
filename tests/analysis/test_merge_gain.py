"""Merge gain on the stored experts and their merge (``harness.analysis.merge_gain``): merged minus the best
parent, the best parent chosen again in every bootstrap resample, against a hand-written bootstrap (accuracy
and, recomputed from scratch with sacrebleu, chrF++)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import CHRF

from harness.analysis.merge_gain import PER_RESAMPLE_BEST, find_parent, merge_gain_table
from harness.analysis.table_model import Bootstrap, Table, TableError
from harness.analysis.table_runs import comparable_groups, load_runs
from harness.analysis.tables import transfer_tables
from harness.analysis.transfer import Resampler, table_metric
from harness.records.io import StoredRun
from tests.fixtures import FIXTURE_RUNS

BOOT = Bootstrap(resamples=300, seed=7)
LINEAGE = ("base", "math", "lang", "merged")
PARENTS = ("math", "lang")
LANGUAGES = ("eng_Latn", "deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans")


def _runs(*shorts: str) -> list[StoredRun]:
    return load_runs([FIXTURE_RUNS[short] for short in shorts])


CROSSED = "zho_Hans"  # the crossed copy of lang: right where math is wrong (math 6/12, lang 5/12)


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The stored lineage, with lang's sib200 accuracy on zho_Hans moved to the items math got wrong (the
    same mean, so its results stay true): in the stored runs one parent is right on a superset of the other's
    items, so the best parent never changes between resamples and the two methods could not be told apart."""
    folders = {short: FIXTURE_RUNS[short] for short in LINEAGE}
    crossed = shutil.copytree(FIXTURE_RUNS["lang"], tmp_path_factory.mktemp("crossed") / "lang")
    math_items = _samples("math", "sib200", CROSSED)
    wrong = [rank for rank, item in enumerate(sorted(math_items)) if not math_items[item]["scores"]["acc"]]
    lines = (crossed / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    chosen = [r for r in records if r["task"] == "sib200" and r["language"] == CROSSED]
    right = int(sum(r["scores"]["acc"] for r in chosen))
    for rank, record in enumerate(sorted(chosen, key=lambda r: r["id"])):
        record["scores"]["acc"] = 1.0 if rank in wrong[:right] else 0.0
    (crossed / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return {**folders, "lang": crossed}


@pytest.fixture(scope="module")
def tables(lineage: dict[str, Path]) -> list[Table]:
    runs = load_runs(lineage.values())
    return [table for task, metric in (("sib200", "acc"), ("flores200", "chrf++"))
            for table in transfer_tables(runs, [task], [metric], settings=BOOT)]  # fmt: skip


def _gain_table(tables: list[Table], metric: str) -> Table:
    (found,) = [table for table in tables if table.kind == "merge_gain" and table.metric == metric]
    return found


def _cell(table: Table, column: str):
    (row,) = table.rows
    return row.cells[next(i for i, c in enumerate(table.columns) if c.key == column)]


def _samples(short: str, task: str, code: str, folder: Path | None = None) -> dict[str, dict]:
    found = {}
    for line in ((folder or FIXTURE_RUNS[short]) / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["task"] == task and record["language"] == code:
            found[record["id"]] = record
    return found


def _draws(n: int) -> np.ndarray:
    return np.random.default_rng(BOOT.seed).integers(0, n, (BOOT.resamples, n))


def _accuracies(lineage: dict[str, Path], short: str, code: str) -> np.ndarray:
    items = _samples(short, "sib200", code, lineage[short])
    return np.asarray([items[i]["scores"]["acc"] for i in sorted(items)])


def _gains(lineage: dict[str, Path], code: str, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resampled merged − max(parents) (best parent per resample) and merged − the parent best on all items."""
    merged = _accuracies(lineage, "merged", code)[draws].mean(axis=1)
    parents = [_accuracies(lineage, parent, code) for parent in PARENTS]
    best = int(np.argmax([p.mean() for p in parents]))  # ties: the first parent
    return merged - np.max([p[draws].mean(axis=1) for p in parents], axis=0), merged - parents[best][draws].mean(axis=1)


def test_the_best_parent_is_chosen_again_in_every_resample(tables, lineage) -> None:
    table = _gain_table(tables, "acc")
    (row,) = table.rows
    assert row.name == "merged" and row.versus == "best of math, lang"
    assert PER_RESAMPLE_BEST in table.notes
    draws = _draws(12)
    for code in LANGUAGES:
        merged = _accuracies(lineage, "merged", code)
        means = [_accuracies(lineage, parent, code).mean() for parent in PARENTS]
        cell = _cell(table, code)
        assert cell.value == pytest.approx(merged.mean() - max(means))
        assert cell.versus == PARENTS[int(np.argmax(means))]
        per_resample, fixed = _gains(lineage, code, draws)
        assert (cell.low, cell.high) == pytest.approx(tuple(np.percentile(per_resample, [2.5, 97.5])), abs=1e-12)
        assert cell.stderr == pytest.approx(float(np.std(per_resample, ddof=1)), abs=1e-12)
        # The old method (the best parent fixed on all items) never gives a lower gain in any resample.
        assert (per_resample <= fixed + 1e-12).all()
        if code == CROSSED:  # where the parents cross, the best parent changes between resamples
            assert (per_resample < fixed - 1e-12).sum() > BOOT.resamples // 4
            assert cell.low < np.percentile(fixed, 2.5) and cell.stderr != pytest.approx(np.std(fixed, ddof=1))


def test_the_mean_gain_takes_each_language_s_best_parent_in_each_resample(tables, lineage) -> None:
    table, draws = _gain_table(tables, "acc"), _draws(12)
    others = [code for code in LANGUAGES if code != "eng_Latn"]
    resampled = sum(_gains(lineage, code, draws)[0] for code in others) / len(others)
    cell = _cell(table, "mean")
    assert cell.value == pytest.approx(np.mean([_cell(table, code).value for code in others]))
    assert (cell.low, cell.high) == pytest.approx(tuple(np.percentile(resampled, [2.5, 97.5])), abs=1e-12)
    english = _gains(lineage, "eng_Latn", draws)[0]
    gap = _cell(table, "gap")
    assert (gap.low, gap.high) == pytest.approx(tuple(np.percentile(english - resampled, [2.5, 97.5])), abs=1e-12)
    assert gap.versus is None and cell.versus is None


def test_chrf_is_recomputed_on_each_resample(tables) -> None:
    """chrF++ is not a mean: each resample is scored from scratch (sacrebleu), per model, then the best parent."""
    table, code = _gain_table(tables, "chrf++"), "eng_Latn-swh_Latn"
    samples = {short: _samples(short, "flores200", code) for short in ("merged", *PARENTS)}
    ids = sorted(samples["merged"])
    chrf = CHRF(word_order=2)

    def score(short: str, positions: np.ndarray) -> float:
        rows = [samples[short][ids[i]] for i in positions]
        return chrf.corpus_score([r["extracted"] for r in rows], [[r["gold"] for r in rows]]).score

    draws = _draws(len(ids))[:60]  # the first resamples suffice: each is checked, not just the interval
    everything = np.arange(len(ids))
    cell = _cell(table, code)
    assert cell.value == pytest.approx(score("merged", everything) - max(score(p, everything) for p in PARENTS))
    (group,) = comparable_groups(_runs(*LINEAGE), "flores200", "chrf++")
    entries = {entry.name: entry for entry in group.entries}
    resampler = Resampler(table_metric(entries["merged"], "chrf++"), BOOT)
    values = {short: resampler.values_of(entries[short], code, tuple(ids))[1][:60] for short in ("merged", *PARENTS)}
    for r, positions in enumerate(draws):
        for short in ("merged", *PARENTS):
            assert values[short][r] == pytest.approx(score(short, positions), abs=1e-9)
    assert cell.low <= cell.value <= cell.high


def test_parents_are_found_by_name_model_or_fingerprint() -> None:
    (group,) = comparable_groups(_runs(*LINEAGE), "sib200", "acc")
    math_entry = next(entry for entry in group.entries if entry.name == "math")
    for alias in ("math", "/data/ckpt/math", math_entry.run.model.fingerprint):
        assert find_parent(group.entries, alias)[0] is math_entry
    assert find_parent(group.entries, "nobody") == (None, [])


def test_a_merged_model_without_its_parents_says_which_are_missing() -> None:
    (group,) = comparable_groups(_runs("base", "merged", "math"), "sib200", "acc")
    with pytest.raises(TableError, match="merged: no merge gain, parents without comparable results: lang"):
        merge_gain_table(group.entries, "acc", BOOT)
    (group,) = comparable_groups(_runs("base", "math"), "sib200", "acc")
    assert merge_gain_table(group.entries, "acc", BOOT) is None


def test_a_parent_named_like_its_lora_and_chat_runs_is_the_plain_model() -> None:
    """``parents: [base]`` means the base, not its LoRA or chat run that was also given the name "base"."""
    (group,) = comparable_groups(_runs("base_lora", "base_chat", "base", "merged"), "sib200", "acc")
    chosen, candidates = find_parent(group.entries, "base")
    assert len(candidates) == 3
    assert chosen is not None and chosen.run.model.adapter_fingerprint is None
    assert chosen.identity.chat_template is None
