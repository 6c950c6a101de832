"""Language family, script and resource class of a language, from published metadata (no hand-typed table).

Transfer tables over 200 languages are read by group: the mean over each language family, script or
resource class. Every group comes from a library's data, looked up by the language's FLORES-style code
(``deu_Latn``):

- **Family**: the top of the language's Glottolog lineage (Hammarström et al., Glottolog), as shipped in
  URIEL+ (Khan et al. 2025, COLING; PyPI ``urielplus``, file ``database/urielplus_csvs/lang_fam_geo.csv``:
  glottocode -> name and lineage, e.g. German: "Indo-European, Classical Indo-European, Germanic, ...").
  A language with an empty lineage is an isolate in Glottolog and is its own family ("Basque (isolate)").
  ISO 639-3 codes become glottocodes through URIEL+'s ``uriel_glottocode_map.csv``.
- **Script**: the script subtag of the code (ISO 15924), named by CLDR through ``langcodes``.
- **Resource class**: URIEL+'s ``resource_languages.json`` (glottocodes in three lists). Its lists are the
  taxonomy of Joshi et al. 2020 ("The State and Fate of Linguistic Diversity and Inclusion in the NLP
  World", ACL) collapsed to three levels: "high" is Joshi's class 5 (the 7 "winners": English, Spanish,
  German, Japanese, French, Arabic, Mandarin), "medium" classes 3-4 (46 languages), "low" classes 0-2 (every
  other language URIEL+ knows). ``tests/test_language_groups.py`` checks the lists against Joshi et al.'s.
  A language URIEL+ does not list is "unknown", never guessed.

Macrolanguages (``zho``, ``est``, ``grn``) have no glottocode of their own: the individual language CLDR
says the macrolanguage code stands for (CLDR languageAlias, reason "macrolanguage", in ``langcodes``:
``cmn`` -> ``zh``, ``ekk`` -> ``et``) is looked up instead, so ``zho_Hans`` is Mandarin Chinese.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import langcodes
from langcodes.data_dicts import NORMALIZED_MACROLANGUAGES

GROUPINGS = ("family", "script", "resource")
UNKNOWN = "unknown"
# URIEL+'s list names -> the class names xlh shows (Joshi et al. 2020 classes in the module docstring).
RESOURCE_LISTS = {"high-resource": "high", "medium-resource": "medium", "low-resource": "low"}
RESOURCE_ORDER = ("high", "medium", "low", UNKNOWN)


@dataclass(frozen=True)
class LanguageInfo:
    """What the groupings know about one language variant (``flores``: ISO 639-3 + ISO 15924 script)."""

    flores: str
    glottocode: str | None
    glottolog_name: str | None
    family: str
    script: str
    script_name: str
    resource: str

    def group(self, by: str) -> str:
        """The group of this language under one of ``GROUPINGS``."""
        if by == "family":
            return self.family
        if by == "script":
            return f"{self.script_name} ({self.script})"
        if by == "resource":
            return f"{self.resource}-resource" if self.resource != UNKNOWN else "resource unknown"
        raise ValueError(f"unknown grouping {by!r}; valid: {', '.join(GROUPINGS)}")


def _uriel_file(name: str) -> Traversable:
    return files("urielplus") / "database" / "urielplus_csvs" / name


@cache
def _glottocodes() -> dict[str, str]:
    """ISO 639-3 -> glottocode (URIEL+'s map; empty glottocodes are left out)."""
    with _uriel_file("uriel_glottocode_map.csv").open(encoding="utf-8") as handle:
        return {row["iso_code"]: row["glottocode"] for row in csv.DictReader(handle) if row["glottocode"]}


@cache
def _lineages() -> dict[str, tuple[str, tuple[str, ...]]]:
    """glottocode -> (Glottolog name, lineage from the family down). The first row of a glottocode wins, as
    URIEL+ itself keeps it (``urielplus_databases``: one row per language)."""
    lineages: dict[str, tuple[str, tuple[str, ...]]] = {}
    with _uriel_file("lang_fam_geo.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            lineage = tuple(part.strip() for part in row["lineage"].split(",") if part.strip())
            lineages.setdefault(row["language_id"], (row["language_name"], lineage))
    return lineages


@cache
def _resource_classes() -> dict[str, str]:
    """glottocode -> "high" | "medium" | "low"."""
    lists = json.loads(_uriel_file("resource_languages.json").read_text(encoding="utf-8"))
    unexpected = set(lists) - set(RESOURCE_LISTS)
    if unexpected:  # a new URIEL+ release with other classes: fail rather than mislabel
        raise RuntimeError(f"urielplus resource_languages.json has unknown lists {sorted(unexpected)}")
    return {code: RESOURCE_LISTS[level] for level, codes in lists.items() for code in codes}


@cache
def _individual_language_of() -> dict[str, str]:
    """Macrolanguage ISO 639-3 code -> the individual language CLDR says it stands for (``zho`` -> ``cmn``).

    Only macrolanguages with exactly one such language are kept (CLDR names two for Akan and Mandingo).
    """
    members: dict[str, list[str]] = {}
    for individual, macro in NORMALIZED_MACROLANGUAGES.items():
        members.setdefault(_alpha3(macro), []).append(_alpha3(individual))
    return {macro: found[0] for macro, found in members.items() if len(found) == 1}


def _alpha3(code: str) -> str:
    return langcodes.Language.get(code).to_alpha3()


def glottocode(iso639_3: str) -> str | None:
    """The glottocode of an ISO 639-3 code, through the individual language for a macrolanguage."""
    found = _glottocodes().get(iso639_3)
    if found is None or found not in _lineages():
        individual = _individual_language_of().get(iso639_3)
        found = _glottocodes().get(individual) if individual else found
    return found


@cache
def language_info(flores: str) -> LanguageInfo:
    """Family, script and resource class of a FLORES-style code (``deu_Latn``, ``zho_Hans``)."""
    iso, _, script = flores.partition("_")
    if not iso or not script:
        raise ValueError(f"{flores!r} is not a FLORES-style code (language_Script)")
    code = glottocode(iso)
    name, lineage = _lineages().get(code, (None, ())) if code else (None, ())
    if name is None:
        family = UNKNOWN
    elif lineage:
        family = lineage[0]
    else:
        family = f"{name} (isolate)"
    return LanguageInfo(
        flores=flores,
        glottocode=code,
        glottolog_name=name,
        family=family,
        script=script,
        script_name=langcodes.Language.make(script=script).script_name(),
        resource=_resource_classes().get(code, UNKNOWN) if code else UNKNOWN,
    )


def group_of(flores: str, by: str) -> str:
    """The group of a language variant under ``by`` (one of ``GROUPINGS``)."""
    return language_info(flores).group(by)


def group_sort_key(by: str, group: str) -> tuple[int, str]:
    """Resource classes from high to low; families and scripts alphabetically, "unknown" last."""
    if by == "resource":
        level = group.removesuffix("-resource").replace("resource unknown", UNKNOWN)
        return (RESOURCE_ORDER.index(level) if level in RESOURCE_ORDER else len(RESOURCE_ORDER), group)
    return (1 if group == UNKNOWN else 0, group)


__all__ = ["GROUPINGS", "LanguageInfo", "glottocode", "group_of", "group_sort_key", "language_info"]
