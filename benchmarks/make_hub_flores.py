"""Write a folder laid out as the FLORES+ Hub dataset from the local FLORES-200 devtest files, for some languages.

    python benchmarks/make_hub_flores.py --data-dir ../shared/data --out /tmp/flores-hub eng_Latn deu_Latn zho_Hans
    XLH_FLORES_HUB=/tmp/flores-hub xlh eval ... --hub     # reads FLORES through datasets.load_dataset, offline

What the FLORES Hub path of xlh (tasks/_flores_hub.py, harness/run/examples.py) reads, without the Hub: one
config per language under its FLORES+ name (``zho_Hans`` is written as ``cmn_Hans``), split ``devtest`` (the
local data has no whole ``dev`` split), rows with the FLORES+ fields that the local data can fill (``id`` from 0,
``iso_639_3``, ``iso_15924``, ``text`` as in the file, unstripped, ``url``, ``domain``, ``topic``,
``has_image``, ``has_hyperlink`` from ``metadata_devtest.tsv``, ``split``), and a README.md whose YAML
``configs:`` maps each config to its file, which is how ``datasets.load_dataset(<folder>, name=<config>,
split="devtest")`` finds it. Files are parquet (``devtest/<config>.parquet``): the FLORES maintainers ask that
the sentences not sit on disk as plain text where crawlers may find them. The data is FLORES-200 v1, not
FLORES+'s corrected text. Here rather than in tests/ because it is also how a user checks the Hub path of a
run (or runs it on a machine without the Hub); the tests import it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks._flores_hub import FLORES_PLUS, hub_config  # noqa: E402
from tasks.flores200 import read_sentences  # noqa: E402

SPLIT = "devtest"
METADATA = ("url", "domain", "topic", "has_image", "has_hyperlink")  # metadata_devtest.tsv's columns, renamed


def devtest_rows(data_dir: Path, flores: str) -> list[dict[str, object]]:
    """One language's devtest rows as FLORES+ has them (the sentences unstripped, as in the file)."""
    folder = data_dir / "flores200" / "flores200_dataset"
    path = folder / SPLIT / f"{flores}.devtest"
    count = len(read_sentences(path))  # 1,012 non-empty lines, or a DataError naming the file and line
    lines = path.read_text(encoding="utf-8").split("\n")[:count]
    with (folder / "metadata_devtest.tsv").open(encoding="utf-8", newline="") as handle:
        metadata = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    iso_639_3, iso_15924 = hub_config(FLORES_PLUS, flores).split("_")[:2]
    return [
        {
            "id": index,
            "iso_639_3": iso_639_3,
            "iso_15924": iso_15924,
            "text": text,
            **dict(zip(METADATA, meta, strict=True)),
            "split": SPLIT,
        }  # fmt: skip
        for index, (text, meta) in enumerate(zip(lines, metadata, strict=True))
    ]


def write_hub_folder(data_dir: Path, out: Path, languages: Sequence[str]) -> Path:
    """Write ``out`` (README.md and ``devtest/<config>.parquet``) for the FLORES-200 codes ``languages``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (out / SPLIT).mkdir(parents=True, exist_ok=True)
    configs = []
    for flores in languages:
        config = hub_config(FLORES_PLUS, flores)
        pq.write_table(pa.Table.from_pylist(devtest_rows(data_dir, flores)), out / SPLIT / f"{config}.parquet")
        configs.append(config)
    entries = "".join(
        f"- config_name: {config}\n  data_files:\n  - split: {SPLIT}\n    path: {SPLIT}/{config}.parquet\n"
        for config in configs
    )
    readme = f"---\nconfigs:\n{entries}---\n\nFLORES-200 v1 devtest laid out as {FLORES_PLUS} (xlh tests).\n"
    (out / "README.md").write_text(readme, encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data", help="DATA_DIR")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument("languages", nargs="+", help="FLORES-200 codes (eng_Latn deu_Latn ...)")
    args = parser.parse_args(argv)
    print(write_hub_folder(args.data_dir, args.out, args.languages))


if __name__ == "__main__":
    main()
