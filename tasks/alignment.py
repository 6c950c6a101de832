"""Cross-lingual alignment with English from parallel FLORES-200 sentences: MEXA (Kargaran et al. 2024, "MEXA:
Multilingual Evaluation of English-Centric LLMs via Cross-Lingual Alignment", arXiv:2410.05873; reference code
cisnlp/MEXA) and Language Ranker's mean cosine similarity (Li et al. 2024, arXiv:2404.11553). No labels and no
generation: a capability estimate for every FLORES language from one forward pass per sentence.

- Data: FLORES-200 itself (read through ``tasks.flores200``, locally or from the Hub: FLORES+ by default, see
  ``tasks/_flores_hub.py``): item ``i`` pairs line ``i`` of English with line ``i`` of the language. Splits
  ``devtest`` (1,012 sentences, default) and ``dev`` (locally the 510 SIB-200 dev sentences, 997 on the Hub).
- Items: 100 sentences per language unless LIMIT says otherwise (MEXA's setting: it reads the first 100 devtest
  lines; xlh takes the seeded LIMIT sample, the same sentences in every language; ``LIMIT_MODE=first`` gives the
  reference's). The score depends on N (more sentences, more rivals per pair), so a LIMIT above the split's size
  is an error rather than all of it.
- Languages: the 203 FLORES-200 languages other than English, which is the pivot every language is compared
  with (English with itself is 1 by construction).
- Requests: each sentence and its English original as ``EmbedRequest``s: the model reads each text alone (its
  tokenizer's special tokens included, no prompt) and returns every layer's hidden states pooled two ways, as
  the reference does for decoder models: the position-weighted mean over tokens (weights 1..T) and the last
  token. Only backends that return hidden states run it (``--backend hf``).
- Scores: per layer (the embedding output is layer 0, as in the reference), the N x N cosine matrix of English
  rows against the language's columns; pair ``i`` is aligned at that layer when its cosine is strictly the
  largest of its row and its column (ties are not). MEXA at a layer is the share of aligned pairs; Language
  Ranker's score the mean cosine of the pairs. Metrics (harness/metrics/alignment.py): ``mexa_mean`` (headline:
  mean over layers), ``mexa_max`` (the best layer), ``cosine_mean`` (mean over layers and pairs), and the same
  three from last-token vectors (``*_last``). Every pair's per-layer flags and cosines are kept in
  ``samples.jsonl`` (``details``: ``aligned_weighted``, ``cosine_weighted``, ``aligned_last_token``,
  ``cosine_last_token``), from which ``xlh heatmap`` draws layer-by-language curves.
- Differences from the reference: cosines of float32 vectors in float64 (the reference: scipy, float64 too);
  batches of texts right-padded (the reference: one text at a time; the same vectors up to summation order).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.api.languages import ENGLISH, FLORES200_CODES, Language, flores_language
from harness.api.metric import Metric, SampleScore
from harness.api.requests import Embedding, EmbedRequest, Request, Response
from harness.api.task import HubSource, Shot, Task
from harness.errors import ConfigError
from harness.metrics.alignment import LayerMax, LayerMean, layer_curves
from tasks.flores200 import Flores200, FloresExample, direction

VERSION = 1
DEFAULT_PAIRS = 100  # MEXA's setting
POOLINGS = ("weighted", "last_token")  # the Embedding fields, in the order metrics are listed
METRIC_SUFFIX = {"weighted": "", "last_token": "_last"}


class Alignment(Task[FloresExample]):
    name = "alignment"
    version = VERSION
    description = "MEXA alignment and cosine similarity with English of parallel FLORES-200 sentences (hidden states)"
    languages = tuple(flores_language(code) for code in FLORES200_CODES if code != ENGLISH)
    splits = ("devtest", "dev")
    default_split = "devtest"
    data_folder = "flores200"
    reads_hidden_states = True
    generates = False
    default_limit = DEFAULT_PAIRS
    in_default_selection = False  # hidden states, hf only: named when wanted (TASKS=alignment)

    def __init__(self) -> None:
        self.flores = Flores200()

    # -- data: FLORES-200's English -> language direction ---------------------------------------------
    def local_files(self, data_dir: Path, language: Language, split: str) -> tuple[Path, ...]:
        return self.flores.local_files(data_dir, _from_english(language), split)

    def load_local(self, data_dir: Path, language: Language, split: str) -> list[FloresExample]:
        return self.flores.load_local(data_dir, _from_english(language), split)

    def expected_examples(self, split: str) -> int | None:
        return self.flores.expected_examples(split)

    def hub_sources(self, language: Language, split: str) -> tuple[HubSource, ...]:
        """FLORES+ (or ``XLH_FLORES_HUB``): the English config and the language's, as FLORES-200 reads them."""
        return self.flores.hub_sources(_from_english(language), split)

    def from_hub_split(
        self, rows: Sequence[Sequence[dict[str, Any]]], language: Language, split: str
    ) -> list[FloresExample]:
        return self.flores.from_hub_split(rows, _from_english(language), split)

    def check_limit(self, limit: int, available: int, language: Language, split: str) -> None:
        """MEXA's score depends on N: a LIMIT the split cannot fill is an error, not "all of them"."""
        if limit > available:
            raise ConfigError(
                f"task {self.name!r}: LIMIT {limit} parallel sentences, but {language.code} has {available} in "
                f"{split!r}; use LIMIT={available} or fewer"
            )

    # -- requests and scores ----------------------------------------------------------------------------
    def requests(
        self, example: FloresExample, language: Language, variant: str, shots: Sequence[Shot[FloresExample]] = ()
    ) -> list[Request]:
        if shots:
            raise ConfigError(f"task {self.name!r} reads sentences, not prompts: SHOTS must be 0")
        return [EmbedRequest(example.source), EmbedRequest(example.target)]  # English, then the language

    def score(
        self, example: FloresExample, language: Language, variant: str, responses: Sequence[Response]
    ) -> SampleScore:
        raise ConfigError(f"task {self.name!r} scores a language's pairs together (score_all), never one alone")

    def score_all(
        self, answered: Sequence[tuple[FloresExample, Sequence[Response]]], language: Language, variant: str
    ) -> list[SampleScore]:
        """Every pair's per-layer MEXA flags and cosines, from the language's N x N matrices at each layer."""
        scores: list[dict[str, float]] = [{} for _ in answered]
        details: list[dict[str, Any]] = [{} for _ in answered]
        for pooling in POOLINGS:
            english, other = (np.stack([_vectors(r, side, pooling) for _, r in answered], axis=1) for side in (0, 1))
            flags, cosines = layer_curves(english, other)
            suffix = METRIC_SUFFIX[pooling]
            for i in range(len(answered)):
                scores[i][f"mexa_mean{suffix}"] = float(flags[i].mean())
                scores[i][f"cosine_mean{suffix}"] = float(cosines[i].mean())
                details[i][f"aligned_{pooling}"] = [int(flag) for flag in flags[i]]
                details[i][f"cosine_{pooling}"] = [float(value) for value in cosines[i]]
        return [
            SampleScore(extracted=None, gold=None, scores=score, details=detail)
            for score, detail in zip(scores, details, strict=True)
        ]

    def metrics(self, variant: str) -> tuple[Metric, ...]:
        metrics: list[Metric] = []
        for pooling in POOLINGS:
            suffix, vectors = METRIC_SUFFIX[pooling], pooling.replace("_", "-")
            metrics += [
                LayerMean(f"mexa_mean{suffix}", f"aligned_{pooling}", f"MEXA, mean over layers ({vectors} vectors)"),
                LayerMax(f"mexa_max{suffix}", f"aligned_{pooling}", f"MEXA at the best layer ({vectors} vectors)"),
                LayerMean(f"cosine_mean{suffix}", f"cosine_{pooling}", f"mean cosine with English ({vectors})"),
            ]
        return tuple(metrics)


def _from_english(language: Language) -> Language:
    return direction(ENGLISH, language.flores)


def _vectors(responses: Sequence[Response], side: int, pooling: str) -> np.ndarray:
    answer = responses[side]
    if not isinstance(answer, Embedding):
        raise TypeError(f"alignment scores hidden-state vectors, got {type(answer).__name__}")
    return answer.weighted if pooling == "weighted" else answer.last_token  # type: ignore[no-any-return]


TASKS = (Alignment(),)
