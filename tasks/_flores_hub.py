"""FLORES-200 on the Hugging Face Hub: which dataset, which config holds a language, and how a direction's two
rows (one per config, row ``i`` of each being sentence ``i``) become one item. Shared by ``tasks/flores200.py``
and every task that reads FLORES sentences (``tasks/alignment.py``); the leading underscore keeps the task
registry from looking for ``TASKS`` here.

Which dataset: ``$XLH_FLORES_HUB`` when set, else FLORES+. Every choice is recorded in results (``DataInfo.hub``:
path as given, config, split, revision, fingerprint, for both configs of a direction).

- FLORES+ (``openlanguagedata/flores_plus``, the default): OLDI's maintained FLORES (CC BY-SA 4.0). Gated: accept
  its terms on https://huggingface.co/datasets/openlanguagedata/flores_plus, then ``huggingface-cli login`` (or
  ``HF_TOKEN``). One config per language variety, ``<ISO 639-3>_<ISO 15924>`` with a glottocode or variant suffix
  where one code has several (``apc_Arab_nort3139``); splits ``dev`` (997 rows) and ``devtest`` (1,012); the
  sentence is ``text``; rows also carry ``id``, ``iso_639_3``, ``iso_15924``, ``glottocode``, ``variant``, ``url``,
  ``domain``, ``topic``, ``has_image``, ``has_hyperlink``, ``last_updated``, ``split``. FLORES+ relabelled 11
  FLORES-200 codes (``FLORES_PLUS_CONFIGS``) and corrected text since FLORES-200 v1 (among others ``ckb_Arab``,
  ``lij_Latn``, ``yue_Hant``, ``nob_Latn``, 1-2 overwritten sentences in ~30 languages, per its CHANGELOG), so its
  data is not DATA_DIR's: the same direction has the same item ids from both (runs pair by item) but other
  references. Pinned to ``REVISIONS[FLORES_PLUS]``, the Hub commit two public third-party reports give for it (a
  dataset survey's ``HfApi`` listing, which also shows its data as ``<split>/<config>.jsonl``, and an MT report
  citing its card); it could not be checked against the Hub from where this was written.
- ``XLH_FLORES_HUB=facebook/flores``: Meta's FLORES-200 (gated the same way; configs are the FLORES-200 codes;
  the sentence is ``sentence``). Older revisions of it are a loading script, which ``datasets`` 4 and later
  refuse (xlh says so); the pinned revision (``REVISIONS[FACEBOOK_FLORES]``, from the same survey) lists
  parquet files per config, which any ``datasets`` reads.
- ``XLH_FLORES_HUB=<folder or another dataset id>``: a dataset laid out as FLORES+ (configs, splits, ``text``),
  e.g. a folder written by ``benchmarks/make_hub_flores.py``; not pinned (revision None).

Items: ``<split>:<row index>``, the ids of the local files (devtest line index; the dev row index, which SIB-200
calls ``index_id``), so Hub and local runs of a direction pair item by item (this takes the Hub rows to be in
the published order, as the local files are). The two rows of an item must agree on ``id`` (and on ``split``
where rows carry it); sentences are stripped as the local reader strips them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from harness.api.task import HubSource

HUB_ENV = "XLH_FLORES_HUB"
FLORES_PLUS = "openlanguagedata/flores_plus"
FACEBOOK_FLORES = "facebook/flores"
HUB_PATHS = (FLORES_PLUS, FACEBOOK_FLORES)  # the datasets xlh knows, default first
REVISIONS = {
    FLORES_PLUS: "5fec6c13f9e5a4db2f745d4ec0d7c9721ddc4f06",
    FACEBOOK_FLORES: "71abf77d8b7beb5cfef59898d6b24d92ab7654fc",
}
TEXT_FIELDS = ("text", "sentence")  # FLORES+ (and folders laid out as it), facebook/flores
HUB_SENTENCES = {"devtest": 1012, "dev": 997}  # both datasets: the whole dev split (locally 510 of it)

# FLORES-200 code -> FLORES+ config, where FLORES+ relabelled it (openlanguagedata/flores CHANGELOG.md: 2.0-rc.1
# for zho_Hans, zho_Hant, tgl_Latn, tzm_Tfng; 2.0-rc.2 for est_Latn, grn_Latn, kon_Latn, ajp_Arab, apc_Arab,
# aka_Latn, twi_Latn). Every other FLORES-200 code is a FLORES+ config of the same name.
FLORES_PLUS_CONFIGS = {
    "zho_Hans": "cmn_Hans",  # Standard Beijing Mandarin
    "zho_Hant": "cmn_Hant",  # Taiwanese Mandarin
    "tgl_Latn": "fil_Latn",  # Filipino
    "tzm_Tfng": "zgh_Tfng",  # Standard Moroccan Tamazight
    "est_Latn": "ekk_Latn",  # macrolanguage -> Standard Estonian
    "grn_Latn": "gug_Latn",  # macrolanguage -> Paraguayan Guarani
    "kon_Latn": "ktu_Latn",  # macrolanguage -> Kituba (DRC)
    "ajp_Arab": "apc_Arab_sout3123",  # ajp deprecated: South Levantine Arabic
    "apc_Arab": "apc_Arab_nort3139",  # North Levantine Arabic
    "aka_Latn": "twi_Latn_asan1239",  # Asante Twi
    "twi_Latn": "twi_Latn_akua1239",  # Akuapem Twi
}


def hub_path() -> str:
    """The dataset FLORES is read from: ``$XLH_FLORES_HUB`` (a Hub id or a folder) or FLORES+."""
    return os.environ.get(HUB_ENV, "").strip() or FLORES_PLUS


def hub_config(path: str, flores: str) -> str:
    """The config of ``path`` holding the FLORES-200 language ``flores``."""
    return flores if path == FACEBOOK_FLORES else FLORES_PLUS_CONFIGS.get(flores, flores)


def pair_hub_sources(source_flores: str, target_flores: str, split: str) -> tuple[HubSource, HubSource]:
    """The two Hub configs of a direction between FLORES-200 languages, source first."""
    path = hub_path()
    revision = REVISIONS.get(path)
    source, target = (
        HubSource(path, hub_config(path, code), split, revision) for code in (source_flores, target_flores)
    )
    return source, target


def pair_from_hub_rows(rows: Sequence[dict[str, Any]], index: int, split: str) -> tuple[str, str, str]:
    """``(item id, source sentence, target sentence)`` of row ``index`` of a direction's two configs.

    Raises:
        ValueError: the rows disagree on ``id`` or ``split``, or a sentence is missing or empty (the message
            names the row).
    """
    source, target = rows
    for field in ("id", "split"):
        if source.get(field) != target.get(field):
            raise ValueError(
                f"row {index}: the two configs' rows differ in {field!r} ({source.get(field)!r} vs "
                f"{target.get(field)!r}): not the same sentence"
            )
    if source.get("split", split) != split:
        raise ValueError(f"row {index}: a row of split {source['split']!r} in split {split!r}")
    return f"{split}:{index}", _sentence(source, index), _sentence(target, index)


def _sentence(row: dict[str, Any], index: int) -> str:
    field = next((name for name in TEXT_FIELDS if name in row), None)
    if field is None:
        raise ValueError(f"row {index}: no sentence field ({' or '.join(TEXT_FIELDS)}; fields: {', '.join(row)})")
    text = row[field]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"row {index}: empty sentence ({field}={text!r})")
    return text.strip()
