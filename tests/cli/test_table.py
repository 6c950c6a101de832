"""``xlh table`` (``harness.cli.table``) on the stored runs: arguments, output files, a study's names, roles
and order, and the errors it reports."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import pytest

from harness.analysis.table_model import Bootstrap, TableError
from harness.cli import table
from tests.fixtures import FIXTURE_RUNS, RUNS_ROOT

BOOT = Bootstrap(resamples=50, seed=5)
LINEAGE = [FIXTURE_RUNS[short] for short in ("base", "math", "lang", "merged")]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    table.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_become_a_request_and_csv_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(*map(str, LINEAGE), "--format", "csv", "--tasks", "sib200", "--metrics", "acc, macro_f1",
                 "--resamples", "40", "--seed", "9")  # fmt: skip
    assert table.run(args) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {line["metric"] for line in lines} == {"acc", "macro_f1"}
    assert {line["table"] for line in lines} == {"scores", "deltas", "merge_gain"}


def test_tables_are_written_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tables" / "sib.md"
    request = table.TableRequest(run_folders=tuple(LINEAGE), fmt="md", out=out, tasks=("sib200",), bootstrap=BOOT)
    assert table.table_command(request) == 0
    assert "3 tables written to" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.count("### sib200:prompt_1 · acc (%)") == 3 and "seed=5" in text


def test_a_study_names_orders_and_roles_the_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(
        "name: merge-demo\nmodels:\n"
        "  - {name: Merged model, model: /data/ckpt/merged, role: merged, parents: [Math, Language],"
        " recipe: 'layers from Language'}\n"
        "  - {name: Base model, model: /data/ckpt/base, role: base}\n"
        "  - {name: Math, model: /data/ckpt/math, role: expert, parents: [Base model]}\n"
        "  - {name: Language, model: /data/ckpt/lang, role: expert, parents: [Base model]}\n",
        encoding="utf-8",
    )
    out = tmp_path / "tables.md"
    request = table.TableRequest(study=study, results=RUNS_ROOT, fmt="md", out=out, tasks=("sib200",), bootstrap=BOOT)
    assert table.table_command(request) == 0
    first = out.read_text(encoding="utf-8").split("### ")[1:4]  # the main setting's scores, deltas, merge gain
    rows = [
        line.split(" | ")[0].lstrip("| ") for line in first[0].splitlines() if line.startswith("| ") and "±" in line
    ]
    assert rows == ["Merged model", "Base model", "Math", "Language"]  # the study's order; a LoRA run is not its base
    assert "| Math − Base model |" in first[1] and "| Merged model − best of Math, Language |" in first[2]


def test_requests_that_cannot_be_served_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="give run folders .* or --study"):
        table.table_command(table.TableRequest())
    with pytest.raises(TableError, match="not both"):
        table.table_command(table.TableRequest(run_folders=(LINEAGE[0],), study=tmp_path / "study.yaml"))
    with pytest.raises(TableError, match="unknown format 'html'"):
        table.table_command(table.TableRequest(run_folders=(LINEAGE[0],), fmt="html"))
    study = tmp_path / "study.yaml"
    study.write_text("name: x\nmodels:\n  - {name: Base, model: /data/ckpt/base, role: base}\n", encoding="utf-8")
    with pytest.raises(TableError, match="no results of its models"):
        table.table_command(table.TableRequest(study=study, results=tmp_path / "empty"))
