"""Multiple-choice tasks: one context, a few choices, one right answer, scored by log-likelihood.

NLI, reading comprehension and topic classification ask a model the same question: which continuation of a
context is the most likely. A benchmark of that shape subclasses ``MultipleChoiceTask`` and declares only
what is its own, beside the data methods every ``Task`` has (files, Hub source, the adapter to a typed
example):

- ``labels``: how results name the choices (topic labels, answer letters), in choice order;
- ``gold(example)``: the index of the right choice;
- ``prompt(example, language, variant)``: the context the choices continue, its words taken from the
  task's per-language (and per-variant) prompt tables;
- ``choices(example, language, variant)``: the choice texts, when they are not the labels themselves;
- ``choice_metrics``: only when the metrics differ from ``acc`` and ``acc_norm``.

The base does the rest the same way for every such task, as lm-eval's multiple-choice tasks do:

- request: one ``ChoiceRequest`` whose context is the demonstrations then the prompt, and whose
  continuations are the choices, each after the target delimiter (a space);
- demonstration: the prompt, the target delimiter, the gold choice;
- score: ``acc`` and ``acc_norm`` (log-likelihood per character of the choice, see ``choice_sample_score``);
- stratum: the gold index, so that a LIMIT sample keeps every label (or answer position) in proportion.

It checks the variant of every call, so an undeclared variant is a ``ConfigError`` naming the valid ones,
never a silent fall-through to another prompt. A minimal plugin (data methods left out)::

    class YesNo(MultipleChoiceTask[YesNoExample]):
        name = "yes_no"
        labels = ("yes", "no")

        def gold(self, example: YesNoExample) -> int:
            return 0 if example.answer else 1

        def prompt(self, example: YesNoExample, language: Language, variant: str) -> str:
            return f"{example.question}\\n{WORDS[language.code].answer}:"

tests/api/test_multiple_choice.py holds a complete one.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Sequence
from typing import ClassVar

from harness.api.languages import Language
from harness.api.metric import Metric, SampleScore
from harness.api.requests import ChoiceRequest, Request, Response
from harness.api.task import E, Shot, Task
from harness.metrics.mean import MeanMetric, choice_sample_score

# lm-eval joins a context and each of its continuations with a space (its default target_delimiter).
TARGET_DELIMITER = " "
ACCURACY_METRICS: tuple[Metric, ...] = (MeanMetric("acc"), MeanMetric("acc_norm"))


class MultipleChoiceTask(Task[E]):
    """A task whose every example is a context, ``len(labels)`` choices and the index of the right one."""

    labels: ClassVar[tuple[str, ...]]
    target_delimiter: ClassVar[str] = TARGET_DELIMITER
    choice_metrics: ClassVar[tuple[Metric, ...]] = ACCURACY_METRICS
    generates = False

    # -- what a benchmark declares ------------------------------------------------------------------
    @abstractmethod
    def gold(self, example: E) -> int:
        """The index of the right choice (into ``labels`` and ``choices``)."""

    @abstractmethod
    def prompt(self, example: E, language: Language, variant: str) -> str:
        """The context the choices continue, without demonstrations (may be empty: each choice is then
        scored from the start of the sequence)."""

    def choices(self, example: E, language: Language, variant: str) -> tuple[str, ...]:
        """The choice texts without the target delimiter, in ``labels`` order (by default the labels). They
        also normalise ``acc_norm``, so they are what the model is scored on, never a display form."""
        return self.labels

    # -- what the base does with it ----------------------------------------------------------------
    def requests(self, example: E, language: Language, variant: str, shots: Sequence[Shot[E]] = ()) -> list[Request]:
        choices = self._choices(example, language, variant)
        context = self.fewshot_prefix(shots, variant) + self.prompt(example, language, variant)
        return [ChoiceRequest(context=context, continuations=tuple(self.target_delimiter + c for c in choices))]

    def demonstration(self, shot: Shot[E], variant: str) -> str:
        """The prompt followed by its gold choice (lm-eval: text + target delimiter + target)."""
        example, language = shot.example, shot.language
        gold = self._choices(example, language, variant)[self.gold(example)]
        return self.prompt(example, language, variant) + self.target_delimiter + gold

    def score(self, example: E, language: Language, variant: str, responses: Sequence[Response]) -> SampleScore:
        (response,) = responses
        choices = self._choices(example, language, variant)
        return choice_sample_score(response, choices, self.labels, self.gold(example))

    def metrics(self, variant: str) -> tuple[Metric, ...]:
        self.check_variant(variant)
        return self.choice_metrics

    def stratum(self, example: E) -> Hashable:
        return self.gold(example)

    def _choices(self, example: E, language: Language, variant: str) -> tuple[str, ...]:
        """``choices`` for a declared variant, checked against ``labels`` (one name per choice).

        Raises:
            ConfigError: an undeclared variant (the message lists the valid ones).
            ValueError: not one choice per label.
        """
        self.check_variant(variant)
        choices = self.choices(example, language, variant)
        if len(choices) != len(self.labels):
            raise ValueError(
                f"task {self.name!r}: example {example.id} has {len(choices)} choices for {len(self.labels)} labels"
            )
        return choices
