"""Language identities: a dataset's own code, ISO 639-3 + script, FLORES-200 code and display name.

Names and scripts come from ``langcodes`` (CLDR data), never from a hand-typed table. A task declares only
its dataset codes and, where the dataset's code is not the FLORES one (``sw`` is ``swh_Latn`` there), the
FLORES code it corresponds to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import langcodes


@dataclass(frozen=True)
class Language:
    """One language of one benchmark.

    Attributes:
        code: the dataset's own code (``de`` in MGSM, ``deu_Latn`` in FLORES).
        flores: ISO 639-3 + ISO 15924 script in FLORES-200 style (``deu_Latn``).
    """

    code: str
    flores: str

    @property
    def iso639_3(self) -> str:
        return self.flores.split("_")[0]

    @property
    def script(self) -> str:
        return self.flores.split("_")[1]

    @property
    def name(self) -> str:
        return language_name(self.code)

    def matches(self, selector: str) -> bool:
        """True when ``selector`` names this language: the dataset code, the FLORES code, or any BCP-47 /
        ISO 639 tag of the same language (``de``, ``deu``, ``de-DE``). A selector without a script selects
        every script of the language (``zh`` selects ``zho_Hans`` and ``zho_Hant``)."""
        if selector in (self.code, self.flores):
            return True
        wanted = _parse(selector)
        if wanted is None:
            return False
        for ours in filter(None, (_parse(self.code), _parse(self.flores))):
            same_script = wanted.script is None or wanted.script == ours.script
            if wanted.language == ours.language and same_script:
                return True
        return False


@cache
def _parse(code: str) -> langcodes.Language | None:
    """Language and script subtags of a standardised tag, or None when ``code`` is not a language tag."""
    try:
        tag = langcodes.Language.get(code.replace("_", "-"))
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        return None
    if tag.language is None:
        return None
    return langcodes.Language.make(language=tag.language, script=tag.script)


def language_name(code: str) -> str:
    """English display name from CLDR (``deu_Latn`` -> ``German``; ``zho_Hant`` -> ``Chinese (Traditional)``)."""
    tag = langcodes.Language.get(code.replace("_", "-"))
    if tag.script and tag.language and langcodes.Language.get(tag.language).maximize().script == tag.script:
        tag = langcodes.Language.get(tag.language)  # the usual script of the language goes unsaid
    return tag.display_name("en")


def from_code(code: str, flores: str | None = None) -> Language:
    """A Language from a dataset code; the FLORES code is derived with langcodes unless given."""
    if flores is None:
        tag = langcodes.Language.get(code.replace("_", "-"))
        script = tag.maximize().script
        if script is None:
            raise ValueError(f"langcodes knows no script for language code {code!r}")
        flores = f"{tag.to_alpha3()}_{script}"
    return Language(code=code, flores=flores)
