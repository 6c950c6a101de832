import pytest

from harness.api.languages import Language, from_code, language_name


def test_from_code_derives_iso639_3_and_script() -> None:
    assert from_code("de") == Language("de", "deu_Latn")
    assert from_code("zh").flores == "zho_Hans"
    assert from_code("ja").flores == "jpn_Jpan"


@pytest.mark.parametrize("selector", ["de", "deu_Latn", "deu", "de-DE"])
def test_german_is_selected_by_any_usual_code(selector: str) -> None:
    assert from_code("de").matches(selector)


def test_other_languages_do_not_match() -> None:
    assert not from_code("de").matches("fr")
    assert not Language("zho_Hant", "zho_Hant").matches("zho_Hans")


def test_bare_language_selects_every_script() -> None:
    assert Language("zho_Hans", "zho_Hans").matches("zh")
    assert Language("zho_Hant", "zho_Hant").matches("zh")


def test_names_come_from_cldr() -> None:
    assert language_name("deu_Latn") == "German"
    assert language_name("zho_Hant") == "Chinese (Traditional)"


def test_macrolanguage_codes_select_the_usual_individual_language() -> None:
    # CLDR writes Swahili, Arabic, Malay as sw/ar/ms; FLORES as swh_Latn/arb_Arab/zsm_Latn.
    assert Language("swh_Latn", "swh_Latn").matches("sw")
    assert Language("arb_Arab", "arb_Arab").matches("ar")
    assert Language("zsm_Latn", "zsm_Latn").matches("ms")
    assert from_code("sw", "swh_Latn").matches("swh")
    assert not Language("arz_Arab", "arz_Arab").matches("ar")  # Egyptian Arabic is its own language
    assert not Language("ind_Latn", "ind_Latn").matches("ms")


def test_names_drop_cldrs_individual_language_qualifier() -> None:
    assert language_name("swh_Latn") == "Swahili"


def test_a_written_script_is_kept() -> None:
    assert not Language("sin_Latn", "sin_Latn").matches("sin_Sinh")
    assert not Language("hin_Latn", "hin_Latn").matches("hin_Deva")
    assert Language("hin_Deva", "hin_Deva").matches("hi") and Language("hin_Latn", "hin_Latn").matches("hi")


def test_a_flores_code_selects_exactly_its_variant() -> None:
    """pes_Arab (Iranian Persian) and prs_Arab (Dari) are both "fa" to a language-tag parser; a FLORES code names
    one of them (a 45-language run asked for pes_Arab once evaluated prs_Arab too)."""
    from harness.api.languages import flores_language

    assert flores_language("pes_Arab").matches("pes_Arab") and not flores_language("prs_Arab").matches("pes_Arab")
    assert flores_language("prs_Arab").matches("fa")  # a bare tag still names every variant
