"""Language identities: a dataset's own code, ISO 639-3 + script, FLORES-200 code and display name.

Names and scripts come from ``langcodes`` (CLDR data), never from a hand-typed table. A task declares only
its dataset codes and, where the dataset's code is not the FLORES one (``sw`` is ``swh_Latn`` there), the
FLORES code it corresponds to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import langcodes

ENGLISH = "eng_Latn"  # the FLORES-200 code of English: transfer is measured from it
PAIR_SEPARATOR = "-"  # a translation direction's code is source-target (FLORES codes contain no "-")


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
        if selector in _FLORES_SET:  # a FLORES-200 code names one variant: pes_Arab is not prs_Arab (both "fa")
            return False
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
    """Language and script subtags of a standardised tag, or None when ``code`` is not a language tag.

    Individual languages that CLDR writes with their macrolanguage code are folded into it (``swh`` -> ``sw``,
    ``arb`` -> ``ar``, ``zsm`` -> ``ms``, ``pes`` -> ``fa``), so ``sw`` selects FLORES's ``swh_Latn``; other
    members stay apart (``ar`` does not select Egyptian Arabic ``arz_Arab``).
    """
    try:
        given = langcodes.Language.get(code.replace("_", "-"))
        tag = langcodes.Language.get(langcodes.standardize_tag(code.replace("_", "-"), macro=True))
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        return None
    if tag.language is None:
        return None
    # standardize_tag drops a language's usual script (sin_Sinh -> si): keep the script that was written,
    # or sin_Sinh would select the romanised sin_Latn too.
    return langcodes.Language.make(language=tag.language, script=given.script or tag.script)


@cache  # prompts name their languages once per item
def language_name(code: str) -> str:
    """English display name from CLDR (``deu_Latn`` -> ``German``; ``zho_Hant`` -> ``Chinese (Traditional)``)."""
    tag = langcodes.Language.get(code.replace("_", "-"))
    if tag.script and tag.language and langcodes.Language.get(tag.language).maximize().script == tag.script:
        tag = langcodes.Language.get(tag.language)  # the usual script of the language goes unsaid
    # CLDR disambiguates macrolanguage members ("Swahili (individual language)"); prompts and tables
    # read better without it, and no two languages of our benchmarks collide once it is gone.
    return tag.display_name("en").replace(" (individual language)", "")


def from_code(code: str, flores: str | None = None) -> Language:
    """A Language from a dataset code; the FLORES code is derived with langcodes unless given."""
    if flores is None:
        tag = langcodes.Language.get(code.replace("_", "-"))
        script = tag.maximize().script
        if script is None:
            raise ValueError(f"langcodes knows no script for language code {code!r}")
        flores = f"{tag.to_alpha3()}_{script}"
    return Language(code=code, flores=flores)


# The 204 language variants of FLORES-200 v1 (NLLB Team 2022): the file names of ``flores200_dataset/devtest``.
# SIB-200 has these plus ``nqo_Nkoo``; Belebele's 122 variants are drawn from them (plus a few romanised ones).
# fmt: off
FLORES200_CODES: tuple[str, ...] = (
    "ace_Arab", "ace_Latn", "acm_Arab", "acq_Arab", "aeb_Arab", "afr_Latn", "ajp_Arab", "aka_Latn", "als_Latn",
    "amh_Ethi", "apc_Arab", "arb_Arab", "arb_Latn", "ars_Arab", "ary_Arab", "arz_Arab", "asm_Beng", "ast_Latn",
    "awa_Deva", "ayr_Latn", "azb_Arab", "azj_Latn", "bak_Cyrl", "bam_Latn", "ban_Latn", "bel_Cyrl", "bem_Latn",
    "ben_Beng", "bho_Deva", "bjn_Arab", "bjn_Latn", "bod_Tibt", "bos_Latn", "bug_Latn", "bul_Cyrl", "cat_Latn",
    "ceb_Latn", "ces_Latn", "cjk_Latn", "ckb_Arab", "crh_Latn", "cym_Latn", "dan_Latn", "deu_Latn", "dik_Latn",
    "dyu_Latn", "dzo_Tibt", "ell_Grek", "eng_Latn", "epo_Latn", "est_Latn", "eus_Latn", "ewe_Latn", "fao_Latn",
    "fij_Latn", "fin_Latn", "fon_Latn", "fra_Latn", "fur_Latn", "fuv_Latn", "gaz_Latn", "gla_Latn", "gle_Latn",
    "glg_Latn", "grn_Latn", "guj_Gujr", "hat_Latn", "hau_Latn", "heb_Hebr", "hin_Deva", "hne_Deva", "hrv_Latn",
    "hun_Latn", "hye_Armn", "ibo_Latn", "ilo_Latn", "ind_Latn", "isl_Latn", "ita_Latn", "jav_Latn", "jpn_Jpan",
    "kab_Latn", "kac_Latn", "kam_Latn", "kan_Knda", "kas_Arab", "kas_Deva", "kat_Geor", "kaz_Cyrl", "kbp_Latn",
    "kea_Latn", "khk_Cyrl", "khm_Khmr", "kik_Latn", "kin_Latn", "kir_Cyrl", "kmb_Latn", "kmr_Latn", "knc_Arab",
    "knc_Latn", "kon_Latn", "kor_Hang", "lao_Laoo", "lij_Latn", "lim_Latn", "lin_Latn", "lit_Latn", "lmo_Latn",
    "ltg_Latn", "ltz_Latn", "lua_Latn", "lug_Latn", "luo_Latn", "lus_Latn", "lvs_Latn", "mag_Deva", "mai_Deva",
    "mal_Mlym", "mar_Deva", "min_Arab", "min_Latn", "mkd_Cyrl", "mlt_Latn", "mni_Beng", "mos_Latn", "mri_Latn",
    "mya_Mymr", "nld_Latn", "nno_Latn", "nob_Latn", "npi_Deva", "nso_Latn", "nus_Latn", "nya_Latn", "oci_Latn",
    "ory_Orya", "pag_Latn", "pan_Guru", "pap_Latn", "pbt_Arab", "pes_Arab", "plt_Latn", "pol_Latn", "por_Latn",
    "prs_Arab", "quy_Latn", "ron_Latn", "run_Latn", "rus_Cyrl", "sag_Latn", "san_Deva", "sat_Olck", "scn_Latn",
    "shn_Mymr", "sin_Sinh", "slk_Latn", "slv_Latn", "smo_Latn", "sna_Latn", "snd_Arab", "som_Latn", "sot_Latn",
    "spa_Latn", "srd_Latn", "srp_Cyrl", "ssw_Latn", "sun_Latn", "swe_Latn", "swh_Latn", "szl_Latn", "tam_Taml",
    "taq_Latn", "taq_Tfng", "tat_Cyrl", "tel_Telu", "tgk_Cyrl", "tgl_Latn", "tha_Thai", "tir_Ethi", "tpi_Latn",
    "tsn_Latn", "tso_Latn", "tuk_Latn", "tum_Latn", "tur_Latn", "twi_Latn", "tzm_Tfng", "uig_Arab", "ukr_Cyrl",
    "umb_Latn", "urd_Arab", "uzn_Latn", "vec_Latn", "vie_Latn", "war_Latn", "wol_Latn", "xho_Latn", "ydd_Hebr",
    "yor_Latn", "yue_Hant", "zho_Hans", "zho_Hant", "zsm_Latn", "zul_Latn",
)
# fmt: on
_FLORES_SET = frozenset(FLORES200_CODES)


def flores_language(code: str) -> Language:
    """A Language whose dataset code is its FLORES-style code (``deu_Latn``), as in FLORES, SIB-200, Belebele."""
    if "_" not in code:
        raise ValueError(f"{code!r} is not a FLORES-style code (language_Script)")
    return Language(code=code, flores=code)
