"""Language family, script and resource class from URIEL+ (Glottolog lineages, Joshi et al. resource lists)
and langcodes, for every FLORES-200 variant."""

from __future__ import annotations

import pytest

from harness.api.language_groups import GROUPINGS, glottocode, group_of, group_sort_key, language_info
from harness.api.languages import FLORES200_CODES


@pytest.mark.parametrize(
    ("flores", "family", "script", "resource"),
    [
        ("eng_Latn", "Indo-European", "Latin (Latn)", "high-resource"),
        ("deu_Latn", "Indo-European", "Latin (Latn)", "high-resource"),
        ("rus_Cyrl", "Indo-European", "Cyrillic (Cyrl)", "medium-resource"),
        ("swh_Latn", "Atlantic-Congo", "Latin (Latn)", "low-resource"),
        ("arb_Arab", "Afro-Asiatic", "Arabic (Arab)", "high-resource"),
        ("tam_Taml", "Dravidian", "Tamil (Taml)", "medium-resource"),
        ("fin_Latn", "Uralic", "Latin (Latn)", "medium-resource"),
        ("eus_Latn", "Basque (isolate)", "Latin (Latn)", "medium-resource"),  # an isolate is its own family
        ("quy_Latn", "Quechuan", "Latin (Latn)", "low-resource"),
        # Macrolanguages through the individual language CLDR says they stand for: zho -> cmn, est -> ekk.
        ("zho_Hans", "Sino-Tibetan", "Simplified (Hans)", "high-resource"),
        ("zho_Hant", "Sino-Tibetan", "Traditional (Hant)", "high-resource"),
        ("est_Latn", "Uralic", "Latin (Latn)", "medium-resource"),
    ],
)
def test_groups_of_well_known_languages(flores: str, family: str, script: str, resource: str) -> None:
    assert [group_of(flores, by) for by in GROUPINGS] == [family, script, resource]


def test_macrolanguages_use_the_individual_language_cldr_names() -> None:
    assert glottocode("zho") == glottocode("cmn") == "mand1415"  # Mandarin Chinese
    assert glottocode("est") == glottocode("ekk") == "esto1258"
    assert language_info("zho_Hans").glottolog_name == "Mandarin Chinese"


def test_resource_classes_are_joshi_et_al_classes() -> None:
    """Joshi et al. 2020 ("The State and Fate of Linguistic Diversity and Inclusion in the NLP World", ACL),
    Table 1 and Figure 1: class 5 has 7 languages, class 4 18 and class 3 28; the examples below are the ones
    Table 1 names for classes 5 to 2 (ISO 639-3 codes of those names)."""
    from harness.api.language_groups import _resource_classes

    counts = {level: list(_resource_classes().values()).count(level) for level in ("high", "medium")}
    assert counts == {"high": 7, "medium": 18 + 28}
    examples = {
        "high": ("eng", "spa", "deu", "jpn", "fra"),  # class 5, "the winners"
        "medium": ("rus", "hun", "vie", "nld", "kor", "ind", "ukr", "ceb", "afr", "heb"),  # classes 4 and 3
        "low": ("zul", "lao", "mlt", "gle"),  # class 2, "the hopefuls"
    }
    for level, codes in examples.items():
        for code in codes:
            assert _resource_classes()[glottocode(code)] == level, code  # type: ignore[index]


def test_every_flores_200_variant_has_a_family_and_a_resource_class() -> None:
    for code in FLORES200_CODES:
        info = language_info(code)
        assert info.family != "unknown" and info.resource != "unknown", code
        assert info.script == code.split("_")[1] and info.script_name


def test_unknown_languages_are_unknown_not_guessed() -> None:
    info = language_info("qqq_Latn")
    assert (info.glottocode, info.family, info.resource) == (None, "unknown", "unknown")
    assert group_of("qqq_Latn", "resource") == "resource unknown"
    with pytest.raises(ValueError, match="not a FLORES-style code"):
        language_info("deu")
    with pytest.raises(ValueError, match="unknown grouping"):
        group_of("deu_Latn", "climate")


def test_groups_sort_high_to_low_resource_and_alphabetically_otherwise() -> None:
    resource = ["low-resource", "resource unknown", "high-resource", "medium-resource"]
    assert sorted(resource, key=lambda g: group_sort_key("resource", g)) == [
        "high-resource", "medium-resource", "low-resource", "resource unknown"
    ]  # fmt: skip
    assert sorted(["unknown", "Uralic", "Afro-Asiatic"], key=lambda g: group_sort_key("family", g)) == [
        "Afro-Asiatic", "Uralic", "unknown"
    ]  # fmt: skip
