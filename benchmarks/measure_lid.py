"""Measure xlh's language identifier on every FLORES-200 devtest sentence and write its accuracy table.

    python benchmarks/measure_lid.py --data-dir ../shared/data              # -> harness/metrics/lid_accuracy.tsv
    python benchmarks/measure_lid.py --languages deu_Latn,swh_Latn --limit 50 --out -    # a slice, printed

For each of FLORES-200's 204 languages, the detector (``harness.metrics.language_id``, CLD2) labels each of the
language's 1,012 devtest sentences; the table row says whether the detector can report the language at all
(``outputs``), the share of sentences reported as the language (``accuracy``), the most common wrong answer
and its share, and whether the language is ``covered`` (outputs and accuracy >= ``MIN_ACCURACY``): the
harness's coverage list is read from this table. The header names the detector's signature (the harness
refuses a table of another detector or version) and the date. Takes about 20 seconds on one core.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.api.languages import FLORES200_CODES  # noqa: E402
from harness.cli.common import default_data_dir  # noqa: E402
from harness.metrics import language_id  # noqa: E402
from harness.metrics.language_id import DETECTOR, MIN_ACCURACY, AccuracyRow  # noqa: E402
from tasks.flores200 import read_sentences  # noqa: E402

OUT = ROOT / "harness" / "metrics" / language_id.TABLE


def sentences(data_dir: Path, flores: str, limit: int | None = None) -> tuple[str, ...]:
    """The first ``limit`` (all when None) devtest sentences of one language, as the FLORES task reads them."""
    return read_sentences(data_dir / "flores200" / "flores200_dataset" / "devtest" / f"{flores}.devtest")[:limit]


def measure(data_dir: Path, codes: Sequence[str], limit: int | None = None) -> list[AccuracyRow]:
    """One table row per language."""
    return [language_id.accuracy_row(code, language_id.detect(sentences(data_dir, code, limit))) for code in codes]


def header(rows: Sequence[AccuracyRow], limit: int | None, day: datetime.date) -> list[str]:
    counts = sorted({row.n for row in rows})
    lines = f"first {limit} lines" if limit is not None else "all lines"
    return [
        "Language identification on FLORES-200 devtest (harness/metrics/language_id.py): accuracy is the share of "
        "a language's sentences that the detector reports as that language.",
        f"detector: {DETECTOR.signature}",
        f"data: FLORES-200 v1 devtest, {lines} ({'/'.join(map(str, counts))} sentences per language); "
        f"measured {day.isoformat()} by benchmarks/measure_lid.py",
        f"outputs: the detector has a label for the language; covered: outputs and accuracy >= {MIN_ACCURACY:.2f}; "
        "wrong_top: the most common wrong answer (label:X = a detector label that is no FLORES code), "
        "wrong_share: its share of all n sentences",
    ]


def summary(rows: Sequence[AccuracyRow]) -> str:
    able = [row for row in rows if row.outputs]
    covered = [row for row in rows if row.covered]
    worst = sorted(able, key=lambda row: (row.accuracy, row.flores))[:10]
    return "\n".join(
        [
            f"languages: {len(rows)}; the detector outputs {len(able)}; covered (accuracy >= {MIN_ACCURACY:.2f}): "
            f"{len(covered)}",
            f"mean accuracy: all {statistics.fmean(r.accuracy for r in rows):.4f}, outputs "
            f"{statistics.fmean(r.accuracy for r in able) if able else 0:.4f}, covered "
            f"{statistics.fmean(r.accuracy for r in covered) if covered else 0:.4f}",
            "worst 10 it outputs: "
            + ", ".join(f"{r.flores} {r.accuracy:.3f} ({r.wrong_top} {r.wrong_share:.2f})" for r in worst),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=default_data_dir(), help="the folder holding flores200/")
    parser.add_argument("--languages", help="comma-separated FLORES codes (default: all 204)")
    parser.add_argument("--limit", type=int, help="only the first N sentences of each language")
    parser.add_argument("--out", default=str(OUT), help="the table to write, '-' for standard output")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("give --data-dir (the folder holding flores200/) or set XLH_DATA_DIR")
    codes = tuple(args.languages.split(",")) if args.languages else FLORES200_CODES
    unknown = sorted(set(codes) - set(FLORES200_CODES))
    if unknown:
        parser.error(f"not FLORES-200 codes: {', '.join(unknown)}")
    start = time.perf_counter()
    rows = measure(Path(args.data_dir), codes, args.limit)
    seconds = time.perf_counter() - start
    text = language_id.format_table(rows, header(rows, args.limit, datetime.date.today()))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    sentences_done = sum(row.n for row in rows)
    print(f"{sentences_done} sentences in {seconds:.1f} s ({seconds / sentences_done * 1e6:.0f} us each)")
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
