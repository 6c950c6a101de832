import pytest

from harness.languages import Language, from_code, language_name


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
