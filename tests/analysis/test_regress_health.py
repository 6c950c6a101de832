"""``xlh regress --off-target-tol``: a rise in off-target output tested on its own (paired McNemar over the items
whose language both runs decided), opt-in, with its verdict read the other way round from a score's."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.regress import compare
from harness.analysis.regress_report import IMPROVEMENT, MCNEMAR, REGRESSION, Options
from harness.api.registry import get_task
from tests.fixtures import alignment_runs as fx
from tests.fixtures.health_runs import scored

DIRECTION = "eng_Latn-swh_Latn"
N = 20


def _run(root: Path, data_dir: Path, english: int, weights: str, run_id: str) -> Path:
    """A FLORES eng->swh run of N items whose first ``english`` answers are English sentences, the rest the
    Swahili references."""
    plugin = get_task("flores200")
    examples = plugin.load_local(data_dir, plugin.language(DIRECTION), "devtest")
    answers = [(examples[100 + i].source, "stop") for i in range(english)]
    answers += [(example.target, "stop") for example in examples[english:N]]
    entry, records = scored("flores200", "default", "devtest", DIRECTION, examples[:N], answers)
    return fx.write(root, fx.run([entry], weights, run_id=run_id), records)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("regress-health")
    return _run(root, data_dir, 0, "base", "20260301-090000-basexx"), _run(
        root, data_dir, 12, "merged", "20260301-100000-mergex"
    )


def _off_target(report) -> list:
    return [cell for cell in report.cells if cell.metric == "off_target"]


def test_a_rise_in_off_target_output_is_a_regression_of_its_own(runs: tuple[Path, Path]) -> None:
    base, candidate = runs
    report = compare(base, candidate, Options(off_target_tol=5.0))
    (cell,) = _off_target(report)
    assert (cell.language, cell.test, cell.n) == (DIRECTION, MCNEMAR, N)
    assert (cell.baseline, cell.candidate, cell.delta) == (0.0, 60.0, 60.0)  # 12 of 20 now English
    assert cell.discordant == (12, 0) and cell.p_value == pytest.approx(2 / 2**12)
    assert cell.verdict == REGRESSION and report.exit_code == 1 and cell.ci_low > 0
    reverse = compare(candidate, base, Options(off_target_tol=5.0))
    assert _off_target(reverse)[0].verdict == IMPROVEMENT and _off_target(reverse)[0].delta == -60.0


def test_off_target_is_tested_only_when_asked(runs: tuple[Path, Path]) -> None:
    assert _off_target(compare(*runs)) == []
    (cell,) = _off_target(compare(*runs, Options(off_target_tol=70.0)))
    assert cell.verdict != REGRESSION  # a 60-point rise within a 70-point tolerance
