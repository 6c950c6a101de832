"""Merge gain: each merged model minus the best of its parents, per language, with a paired bootstrap interval.

The point estimate on a language is ``merged − max(parents)`` on all the items they share, and the parent
that scores highest there is shown as the "best parent". The interval does not take that choice as given:
in every bootstrap resample the gain is ``merged − max(parents)`` recomputed on the resample, so the best
parent is chosen again inside each resample (a parent that wins only by noise is not treated as a fixed
reference; the selection's uncertainty is in the interval). A column over several languages (a group mean,
the mean, the gap) is the weighted sum of the languages' gains, each with its own per-resample best parent.
Resampling, pairing by item id and the draws are ``harness.analysis.transfer``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.analysis.table_model import Bootstrap, Table, TableError
from harness.analysis.table_runs import Entry
from harness.analysis.transfer import Pair, paired_table, table_metric

PER_RESAMPLE_BEST = (
    "merge gain = merged − max(parents) per language; the best parent is chosen again in every bootstrap "
    "resample (the interval includes the uncertainty of which parent is best); 'best parent' names the best "
    "on all items"
)


def find_parent(entries: Sequence[Entry], parent: str) -> tuple[Entry | None, list[Entry]]:
    """The entry a parent list's name means (a display name, the model as given, its folder, its fingerprint),
    and every entry it could mean. Of several, the plain model (no adapter, server or chat template: a LoRA or
    chat run named like its base is not the parent a recipe merged) comes first, then table order."""
    resolved = str(Path(parent).expanduser().resolve())
    found = [e for e in entries if parent in e.aliases() or resolved == e.run.model.local_path]
    found.sort(key=lambda entry: not entry.identity.plain)  # stable: table order within each kind
    return (found[0] if found else None), found


def merge_gain_table(
    entries: Sequence[Entry], metric: str, settings: Bootstrap, group_by: str | None = None, notes: Sequence[str] = ()
) -> Table | None:
    """Each merged model minus its best parent on each language, the best parent chosen again in every
    bootstrap resample (see the module docstring).

    Returns:
        The table, or None without a merged model among ``entries``.

    Raises:
        TableError: merged models none of which has all its parents among ``entries`` (the message says
            which are missing), or per-item scores that cannot be read.
    """
    pairs, extra = [], []
    for entry in entries:
        if entry.role != "merged":
            continue
        if not entry.run.parents:
            extra.append(f"{entry.name}: no merge gain, no parents recorded")
            continue
        found = {parent: find_parent(entries, parent) for parent in entry.run.parents}
        missing = [parent for parent, (match, _) in found.items() if match is None]
        if missing:
            extra.append(f"{entry.name}: no merge gain, parents without comparable results: {', '.join(missing)}")
            continue
        for parent, (_, candidates) in found.items():
            if len(candidates) > 1:
                extra.append(f"{entry.name}: parent {parent!r} could be {', '.join(c.name for c in candidates)}; "
                             f"{candidates[0].name} taken")  # fmt: skip
        parents = tuple(match for match, _ in found.values() if match is not None)
        pairs.append(Pair(entry, parents, f"best of {', '.join(p.name for p in parents)}"))
    if not pairs:
        if extra:  # merged models whose parents are not here: say so rather than leave the table out silently
            raise TableError("; ".join(extra))
        return None
    chosen = table_metric(pairs[0].entry, metric)
    return paired_table("merge_gain", entries, pairs, chosen, settings, group_by, [*notes, *extra], [PER_RESAMPLE_BEST])


__all__ = ["PER_RESAMPLE_BEST", "find_parent", "merge_gain_table"]
