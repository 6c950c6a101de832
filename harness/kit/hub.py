"""A language's split as one config of one Hub dataset, adapted row by row: the common shape of ``Task``'s Hub
methods. A task of that shape mixes ``OneHubConfig`` in before its base and declares two things:

- ``hub_source(language, split)``: the dataset, config and split (a ``HubSource``);
- ``from_hub_record(record, index, language)``: one row as the typed example (errors name the row).

``Task.hub_sources`` and ``Task.from_hub_split`` then follow. A task whose examples join several configs or need
the whole split (FLORES-200: a direction is two configs, token budgets follow the split's length ratio)
implements those two itself instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic

from harness.api.languages import Language
from harness.api.task import E, HubSource


class OneHubConfig(ABC, Generic[E]):
    """Mix-in (before the task's base class): the Hub methods of a task whose language is one Hub config."""

    @abstractmethod
    def hub_source(self, language: Language, split: str) -> HubSource:
        """Where the same split lives on the Hugging Face Hub."""

    @abstractmethod
    def from_hub_record(self, record: dict[str, Any], index: int, language: Language) -> E:
        """Adapt one Hub dataset row to the typed example."""

    def hub_sources(self, language: Language, split: str) -> tuple[HubSource, ...]:
        return (self.hub_source(language, split),)

    def from_hub_split(self, rows: Sequence[Sequence[dict[str, Any]]], language: Language, split: str) -> list[E]:
        examples = []
        for index, (record,) in enumerate(rows):
            try:
                examples.append(self.from_hub_record(record, index, language))
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"row {index}: {type(error).__name__}: {error}") from error
        return examples
