"""FLORES-200: machine translation between 204 language variants (NLLB Team 2022, "No Language Left Behind:
Scaling Human-Centered Machine Translation", arXiv:2207.04672).

- Data: 3,001 English Wikimedia sentences translated into 203 other language variants, fully parallel (line
  i is the same sentence everywhere). Local (see the SOURCE.md files): ``DATA_DIR/flores200/
  flores200_dataset/devtest/<code>.devtest`` (1,012 lines per language). The ``dev`` split (997 sentences) is
  not available as such; 510 of its sentences are the SIB-200 rows with ``index_id < 997`` (``DATA_DIR/
  sib200/annotated/<code>/{train,dev,test}.tsv``, pandas-quoted TSV, trailing whitespace stripped), which
  xlh reads as ``dev``. Sentences are stripped of surrounding whitespace on load (6,051 devtest lines end in a
  space; chrF++ and 13a BLEU ignore it); otherwise the text is kept as published, including the doubled
  quotes FLORES-200 has in some languages (24 German devtest lines: ``""Troja""``). Ids: ``devtest:<line
  index from 0>`` and ``dev:<SIB index_id>`` (the row index of the official dev file), the same in every
  language. Licence CC BY-SA 4.0.
- Hub (a run without ``DATA_DIR``; see tasks/_flores_hub.py): FLORES+ (``openlanguagedata/flores_plus``,
  gated: accept its terms, then ``huggingface-cli login``; pinned revision; corrected text, so not the v1
  files' data) or, with ``XLH_FLORES_HUB=facebook/flores``, FLORES-200 itself; ``XLH_FLORES_HUB=<folder>``
  reads a local copy laid out as FLORES+. A direction joins two configs row by row (``hub_sources``: source,
  target; FLORES+ renamed 11 codes, e.g. ``zho_Hans`` is ``cmn_Hans``); ``dev`` there is all 997 sentences.
  Item ids are the local files' (``devtest:<i>``, ``dev:<i>``) and budgets are computed as for local files.
- Languages: the task's "languages" are translation directions (``TranslationDirection``, code
  ``eng_Latn-deu_Latn``). Default: English to and from each of the 203 others (406). Selectors: a language
  (``de``, ``deu``, ``deu_Latn``) selects both English directions of it, ``eng_Latn``/``en`` all 406, and a
  pair of FLORES-200 codes (``deu_Latn-fra_Latn``) that one direction, default or not (built on request).
- Prompt: ``"{source name}: {source sentence}\\n{target name}:"``, greedy until a newline (or the token
  budget, sized from the source's UTF-8 length: see ``max_new_tokens``); the hypothesis is the generation
  stripped. Names are CLDR's English names (``harness.api.languages.language_name``, which leaves out a language's
  usual script and CLDR's " (individual language)" qualifier: Swahili, Nepali, Odia). Script qualifiers stay
  ("Acehnese (Arabic)", "Chinese (Traditional)"): they tell the model which script to write and keep names unique.
- Output health (``health_view``, ``xlh health``): the hypothesis as scored, expected in the target language;
  a copy of the source sentence (``details["source"]``) is reported as such.
- Few-shot: demonstrations (prompt + " " + reference) come from ``dev`` (the 510 SIB-200 sentences of the
  same direction), so no devtest sentence is ever a demonstration. ``SHOTS_FROM`` takes a direction
  (``eng_Latn-fra_Latn``): demonstrations of another direction.
- Metrics (corpus-level per direction, sacrebleu's 0-100 scale, stderr from 1,000 bootstrap resamples of
  the sentences, see harness/metrics/translation.py): ``chrf++`` (headline; ``CHRF(word_order=2)``),
  ``bleu`` (sacrebleu defaults, 13a tokenizer: near meaningless for scripts written without spaces, which
  is what spBLEU is for), ``spbleu`` (``tokenize="flores200"``) only when sacrebleu's FLORES-200
  SentencePiece model and the sentencepiece package are present (never downloaded; otherwise the reason is
  in the results' task notes). Per sample: ``sentence_chrf++`` for inspection (not averaged into anything).
- Differences from lm-eval 0.4.13 (which has six FLORES task families, ~460 generated YAMLs, e.g.
  ``catalan_bench/flores_ca``, ``afrobench/flores``): one plugin, any direction; prompt "German:" rather than
  "German sentence:"; chrF++ as headline (lm-eval's families report chrF and BLEU); stderr from 1,000
  bootstrap resamples of segment statistics with a fixed seed (lm-eval: 100 resamples of its own); dev is
  510 sentences locally, not 997.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.languages import (
    ENGLISH,
    FLORES200_CODES,
    PAIR_SEPARATOR,
    Language,
    flores_language,
    language_name,
)
from harness.api.metric import Metric, SampleScore
from harness.api.requests import DEFAULT_MAX_NEW_TOKENS, GenerationRequest, Request, Response
from harness.api.task import HealthView, HubSource, Shot, Task
from harness.data import per_file_version, read_tsv, require_file
from harness.errors import ConfigError, DataError
from harness.metrics.translation import Bleu, ChrF, SpBleu, sentence_chrfs, spbleu_unavailable
from tasks._flores_hub import HUB_SENTENCES
from tasks._flores_hub import pair_from_hub_rows as pair_from_hub_rows
from tasks._flores_hub import pair_hub_sources as pair_hub_sources

VERSION = 2  # 2: the token budget follows the source's length (was 256 for every sentence)
SPLITS = ("devtest", "dev")
EXPECTED_SENTENCES = {"devtest": 1012, "dev": 510}  # dev: the SIB-200 share of the 997 dev sentences
DEV_SENTENCES = 997  # SIB-200 index_id 0..996 are dev sentences, 997.. devtest ones
SIB_FILES = ("train.tsv", "dev.tsv", "test.tsv")
STOP = "\n"
TARGET_DELIMITER = " "  # between a demonstration's prompt and its reference
# The token budget of a translation. A byte-fallback tokenizer may spend one token per UTF-8 byte of a script
# it barely knows (Myanmar, Tibetan, Khmer: 3 bytes a character), and scripts differ in bytes per sentence by
# 4.5x (FLORES-200 devtest medians relative to English: yue_Hant 0.86, shn_Mymr 3.94), so the budget follows
# the source sentence and the direction: the expected translation length in bytes is the source's bytes times
# the direction's median byte ratio over the split (``expansion``, a property of the two scripts, computed
# from the whole split when it is read, never from one item's reference), and the budget is twice that plus
# BUDGET_SLACK, rounded up to BUDGET_STEP, at least lm-eval's 256. Measured over all 41,412 devtest directions
# (1,012 sentences each): 988 of 41.9M references are longer in *bytes* than their budget in *tokens* (at worst
# 1.6x; tokenizers spend fewer tokens than bytes on any script they know); from English the budget averages
# ~550 tokens (256 before, for every sentence). A generation that still hits it is recorded as "length".
BUDGET_FLOOR = DEFAULT_MAX_NEW_TOKENS
BUDGET_MARGIN = 2.0
BUDGET_SLACK = 128  # short sources: "Yes." may become a long sentence
BUDGET_STEP = 128  # few distinct budgets, so generation batches stay large
_CODES = frozenset(FLORES200_CODES)


@dataclass(frozen=True)
class TranslationDirection(Language):
    """Translation from ``source`` into ``target`` (FLORES-200 codes). ``code`` is ``source-target``;
    ``flores`` is the side that is not English (the target when neither is), so both English directions of
    a language sit under that language in per-language tables."""

    source: str
    target: str

    @property
    def name(self) -> str:
        return f"{language_name(self.source)} → {language_name(self.target)}"

    def matches(self, selector: str) -> bool:
        """A pair selector names exactly this direction; a language selector any direction from or into it."""
        pair = parse_pair(selector)
        if pair is not None:
            return pair == (self.source, self.target)
        return any(flores_language(side).matches(selector) for side in (self.source, self.target))


def direction(source: str, target: str) -> TranslationDirection:
    for code in (source, target):
        if code not in _CODES:
            raise ConfigError(f"task 'flores200': {code!r} is not a FLORES-200 language code")
    if source == target:
        raise ConfigError(f"task 'flores200': {source}{PAIR_SEPARATOR}{target} translates a language into itself")
    flores = target if target != ENGLISH else source
    return TranslationDirection(code=f"{source}{PAIR_SEPARATOR}{target}", flores=flores, source=source, target=target)


def looks_like_pair(selector: str) -> bool:
    """``xxx_Xxxx-yyy_Yyyy``: two FLORES-style codes (a BCP-47 tag like ``de-DE`` has no underscore)."""
    halves = selector.split(PAIR_SEPARATOR)
    return len(halves) == 2 and all("_" in half for half in halves)


def parse_pair(selector: str) -> tuple[str, str] | None:
    """``(source, target)`` when the selector is a pair of FLORES-200 codes, else None."""
    if not looks_like_pair(selector):
        return None
    source, target = selector.split(PAIR_SEPARATOR)
    return (source, target) if source in _CODES and target in _CODES else None


DEFAULT_DIRECTIONS: tuple[TranslationDirection, ...] = tuple(
    pair for code in FLORES200_CODES if code != ENGLISH for pair in (direction(ENGLISH, code), direction(code, ENGLISH))
)


@dataclass(frozen=True)
class FloresExample:
    id: str  # "devtest:<line index>" or "dev:<index_id>", the same item in every direction
    source: str  # the sentence to translate
    target: str  # its reference translation
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # the budget for translating ``source`` (see translation_budget)


# -- reading the files --------------------------------------------------------------------------------------
def _read_sentences(path: Path) -> tuple[str, ...]:
    """The lines of a FLORES ``<code>.devtest`` file, stripped; empty lines are errors."""
    try:
        text = require_file(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"not valid UTF-8 ({error.reason})", path) from error
    # Split on "\n" only: str.splitlines would also split inside sentences at U+2028, U+0085 and the like.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sentences = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError("empty sentence", path, number)
        sentences.append(line.strip())
    if len(sentences) != EXPECTED_SENTENCES["devtest"]:
        raise DataError(f"expected {EXPECTED_SENTENCES['devtest']} sentences, found {len(sentences)}", path)
    return tuple(sentences)


read_sentences = per_file_version(_read_sentences)  # the English file serves every direction


def read_sib_dev(paths: Sequence[Path]) -> dict[int, str]:
    """FLORES dev sentences by index_id from one language's SIB-200 files (rows with index_id < 997)."""
    sentences: dict[int, str] = {}
    for path in paths:
        for line, (index_id, _category, text) in read_tsv(path, columns=3, quoted=True, header=True):
            if not index_id.isdigit():
                raise DataError(f"index_id {index_id!r} is not a number", path, line)
            if int(index_id) >= DEV_SENTENCES:
                continue
            if int(index_id) in sentences:
                raise DataError(f"index_id {index_id} appears twice", path, line)
            if not text.strip():
                raise DataError("empty sentence", path, line)
            sentences[int(index_id)] = text.strip()
    if len(sentences) != EXPECTED_SENTENCES["dev"]:
        raise DataError(
            f"expected {EXPECTED_SENTENCES['dev']} dev sentences (index_id < {DEV_SENTENCES}), found {len(sentences)}",
            paths[0].parent,
        )
    return sentences


# -- prompts and scoring ------------------------------------------------------------------------------------
def prompt(example: FloresExample, pair: TranslationDirection) -> str:
    return f"{language_name(pair.source)}: {example.source}\n{language_name(pair.target)}:"


def expansion(pairs: list[tuple[str, str]]) -> float:
    """The median ratio of target to source UTF-8 bytes over a split's sentence pairs."""
    ratios = sorted(len(target.encode("utf-8")) / len(source.encode("utf-8")) for source, target in pairs)
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def translation_budget(source: str, expansion: float) -> int:
    """Tokens for translating ``source`` in a direction whose translations are ``expansion`` times as long in
    UTF-8 bytes: room for twice the expected translation written one token per byte (constants above)."""
    wanted = BUDGET_MARGIN * expansion * len(source.encode("utf-8")) + BUDGET_SLACK
    rounded = -(-int(wanted) // BUDGET_STEP) * BUDGET_STEP
    return max(BUDGET_FLOOR, rounded)


def with_budgets(items: Sequence[tuple[str, str, str]]) -> list[FloresExample]:
    """The examples of one split from ``(id, source, target)``, each with its translation budget."""
    factor = expansion([(source, target) for _, source, target in items])
    return [FloresExample(id, source, target, translation_budget(source, factor)) for id, source, target in items]


def render(example: FloresExample, pair: TranslationDirection, prefix: str = "") -> GenerationRequest:
    return GenerationRequest(prompt=prefix + prompt(example, pair), stop=(STOP,), max_new_tokens=example.max_new_tokens)


def demonstration(example: FloresExample, pair: TranslationDirection) -> str:
    return prompt(example, pair) + TARGET_DELIMITER + example.target


def hypothesis(response: str) -> str:
    return response.strip()


class Flores200(Task[FloresExample]):
    name = "flores200"
    version = VERSION
    description = "machine translation to and from English (any direction on request), corpus chrF++"
    languages = DEFAULT_DIRECTIONS
    splits = SPLITS
    default_split = "devtest"
    data_folder = "flores200"

    def __init__(self, sacrebleu_folder: Path | None = None) -> None:
        """``sacrebleu_folder``: where to look for sacrebleu's FLORES-200 SentencePiece model (``models/``
        inside it); None is sacrebleu's own ($SACREBLEU or ~/.sacrebleu)."""
        self.sacrebleu_folder = sacrebleu_folder

    # -- languages ----------------------------------------------------------------------------------------
    def select_languages(self, selectors: Sequence[str] | None) -> list[Language]:
        """Default directions named by a language selector, plus every pair named explicitly (in the order
        of the defaults, then of the selectors); a selector naming nothing is left to the caller to report.

        English is the pivot of every default direction, so an English selector beside other languages adds
        nothing (``LANGS=en,de`` gives eng->deu and deu->eng, as the other tasks give English and German);
        English alone (``LANGS=en``, no pair either) selects all 406.
        """
        if not selectors:
            return list(DEFAULT_DIRECTIONS)
        pairs = [self._pair(selector) for selector in selectors if looks_like_pair(selector)]
        languages = [s for s in selectors if not looks_like_pair(s)]
        others = [s for s in languages if not flores_language(ENGLISH).matches(s)]
        named = others if others or pairs else languages
        chosen = [d for d in DEFAULT_DIRECTIONS if any(d.matches(s) for s in named)]
        return list(dict.fromkeys([*chosen, *pairs]))

    def language_summary(self) -> str:
        others = [code for code in FLORES200_CODES if code != ENGLISH]
        return (
            f"{len(DEFAULT_DIRECTIONS)} directions: {ENGLISH}{PAIR_SEPARATOR}xx and xx{PAIR_SEPARATOR}{ENGLISH} "
            f"for xx in {', '.join(others)}; any other pair of these on request (e.g. deu_Latn-fra_Latn)"
        )

    def language(self, selector: str) -> Language:
        """The one direction a selector names: a pair; a language selector names two or more, an error."""
        if looks_like_pair(selector):
            return self._pair(selector)
        named = [d.code for d in DEFAULT_DIRECTIONS if d.matches(selector)]
        if not named:
            raise ConfigError(
                f"task {self.name!r} has no language {selector!r}; valid: a FLORES-200 code (deu_Latn), a "
                f"language tag (de), or a direction source-target of FLORES-200 codes (eng_Latn-deu_Latn)"
            )
        shown = ", ".join(named[:4]) + (", ..." if len(named) > 4 else "")
        raise ConfigError(
            f"task {self.name!r}: {selector!r} names {len(named)} translation directions ({shown}); "
            f"name one as source-target, e.g. {named[0]}"
        )

    def _pair(self, selector: str) -> TranslationDirection:
        source, target = selector.split(PAIR_SEPARATOR)
        unknown = [code for code in (source, target) if code not in _CODES]
        if unknown:
            raise ConfigError(
                f"task {self.name!r}: {selector!r} is not a pair of FLORES-200 codes "
                f"(unknown: {', '.join(unknown)}; codes look like deu_Latn, see harness.api.languages.FLORES200_CODES)"
            )
        return direction(source, target)

    # -- data ---------------------------------------------------------------------------------------------
    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        pair = _direction(language)
        if split == "dev":
            folder = data_dir / "sib200" / "annotated"
            return tuple(folder / code / name for code in (pair.source, pair.target) for name in SIB_FILES)
        folder = data_dir / self.data_folder / "flores200_dataset" / "devtest"
        return (folder / f"{pair.source}.devtest", folder / f"{pair.target}.devtest")

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[FloresExample]:
        pair = _direction(language)
        files = self.local_files(data_dir, pair, split)
        if split == "dev":
            source, target = read_sib_dev(files[:3]), read_sib_dev(files[3:])
            if source.keys() != target.keys():
                raise DataError(f"dev sentence ids differ from those of {files[0].parent}", files[3].parent)
            return with_budgets([(f"dev:{i}", source[i], target[i]) for i in sorted(source)])
        sources, targets = read_sentences(files[0]), read_sentences(files[1])
        return with_budgets(
            [(f"devtest:{i}", source, target) for i, (source, target) in enumerate(zip(sources, targets, strict=True))]
        )

    def expected_examples(self, split: str) -> int | None:
        """devtest: 1,012 everywhere. dev: None here, as its size depends on the source: 510 locally (checked by
        ``read_sib_dev``), 997 on the Hub (checked by ``from_hub_split``)."""
        return EXPECTED_SENTENCES[split] if split == "devtest" else None

    def hub_sources(self, language: Language, split: str) -> tuple[HubSource, ...]:
        pair = _direction(language)
        return pair_hub_sources(pair.source, pair.target, split)

    def from_hub_split(
        self, rows: Sequence[Sequence[dict[str, Any]]], language: Language, split: str
    ) -> list[FloresExample]:
        """The split's examples from its (source row, target row) pairs: the ids of the local files and the token
        budgets ``load_local`` gives (they follow the split's median length ratio)."""
        if len(rows) != HUB_SENTENCES[split]:
            expected = HUB_SENTENCES[split]
            raise DataError(
                f"{self.name}/{language.code}: expected {expected} Hub rows in {split!r}, found {len(rows)}"
            )
        return with_budgets([pair_from_hub_rows(row, index, split) for index, row in enumerate(rows)])

    # -- prompts and scoring ------------------------------------------------------------------------------
    def requests(
        self, example: FloresExample, language: Language, variant: str, shots: Sequence[Shot[FloresExample]] = ()
    ) -> list[Request]:
        return [render(example, _direction(language), self.fewshot_prefix(shots, variant))]

    def demonstration(self, shot: Shot[FloresExample], variant: str) -> str:
        return demonstration(shot.example, _direction(shot.language))

    def shot_split(self, split: str) -> str:
        return "dev"  # never a devtest sentence, so never the scored sentence nor a translation of it

    def score(
        self, example: FloresExample, language: Language, variant: str, responses: Sequence[Response]
    ) -> SampleScore:
        (scored,) = self.score_all([(example, responses)], language, variant)
        return scored

    def score_all(
        self, answered: Sequence[tuple[FloresExample, Sequence[Response]]], language: Language, variant: str
    ) -> list[SampleScore]:
        """A direction's sentences together: their chrF++ n-grams are extracted in one batch."""
        texts = [hypothesis(_only_text(responses)) for _, responses in answered]
        chrfs = sentence_chrfs(texts, [example.target for example, _ in answered])
        return [
            SampleScore(
                extracted=text,
                gold=example.target,
                scores={"sentence_chrf++": chrf},
                details={"source": example.source},
            )
            for (example, _), text, chrf in zip(answered, texts, chrfs, strict=True)
        ]

    def metrics(self, variant: str) -> tuple[Metric, ...]:
        metrics: tuple[Metric, ...] = (ChrF(), Bleu())
        if spbleu_unavailable(self.sacrebleu_folder) is None:
            metrics += (SpBleu(sacrebleu_folder=self.sacrebleu_folder),)
        return metrics

    def notes(self, variant: str) -> tuple[str, ...]:
        reason = spbleu_unavailable(self.sacrebleu_folder)
        return (reason,) if reason else ()

    def health_view(self, language: Language, variant: str, generation: str, extracted: Any,
                    details: Mapping[str, Any]) -> HealthView:  # fmt: skip
        return HealthView(hypothesis(generation), (_direction(language).target,), "hypothesis", details.get("source"))


def _only_text(responses: Sequence[Response]) -> str:
    (response,) = responses
    assert isinstance(response, str)
    return response


def _direction(language: Language) -> TranslationDirection:
    if not isinstance(language, TranslationDirection):
        raise TypeError(f"flores200 evaluates translation directions, got the language {language.code!r}")
    return language


TASKS = (Flores200(),)
