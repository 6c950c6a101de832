"""Chunks of the response store: bounded in requests and estimated cost, in order, nothing lost."""

from __future__ import annotations

from harness.run.chunks import chunks


def test_chunks_hold_at_most_128_requests_and_a_bounded_cost() -> None:
    keys = [f"k{i}" for i in range(300)]
    assert [len(c) for c in chunks(keys, [1] * 300, 128, 65_536)] == [128, 128, 44]
    long_then_short = [3_000] * 40 + [100] * 100
    cut = chunks(keys[:140], long_then_short, 128, 65_536)
    assert [len(c) for c in cut] == [21, 104, 15]  # 21 x 3,000 fit, not 22; then 19 x 3,000 + 85 x 100
    assert [c for chunk in cut for c in chunk] == keys[:140]  # in order, nothing lost
    assert chunks(["huge", "small"], [100_000, 5], 128, 65_536) == [["huge"], ["small"]]
