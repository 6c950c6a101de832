"""The forced-walk logits processor on batches of logits, driven as vLLM's engine drives it: requests added to,
moved within and removed from the persistent batch, their live output lists growing a token a step."""

from __future__ import annotations

import pytest
import torch

from tests.backends.conftest import require_vllm

VOCAB = 50


@pytest.fixture(scope="module")
def vllm_api():
    require_vllm()
    from vllm import SamplingParams
    from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

    from harness.backends.vllm_forcing import ForcedPathProcessor

    return SamplingParams, BatchUpdate, MoveDirectionality, ForcedPathProcessor


def _params(vllm_api, path=None, branch=None):
    sampling_params = vllm_api[0]
    if path is None:
        return sampling_params(max_tokens=3)
    from harness.backends.vllm_walks import WALK_ARG

    return sampling_params(max_tokens=len(path) + 1, extra_args={WALK_ARG: {"path": path, "branch": branch}})


def _update(vllm_api, size, added=(), removed=(), moved=()):
    return vllm_api[1](batch_size=size, removed=list(removed), added=list(added), moved=list(moved))


def _step(processor, logits: torch.Tensor) -> list[int]:
    """One engine step: the processor, then greedy sampling (what an all-greedy batch does)."""
    return processor.apply(logits.clone()).argmax(dim=-1).tolist()


def test_a_walk_emits_its_path_then_the_argmax_it_noted_at_its_branch(vllm_api) -> None:
    processor = vllm_api[3](None, torch.device("cpu"), False)
    forced_outputs: list[int] = []
    free_outputs: list[int] = []
    added = [
        (0, _params(vllm_api, [7, 8, 9], branch=1), [1, 2], forced_outputs),
        (1, _params(vllm_api), [3], free_outputs),
    ]
    processor.update_state(_update(vllm_api, 2, added=added))
    generator = torch.Generator().manual_seed(0)
    noted = None
    for step in range(4):
        logits = torch.randn(2, VOCAB, generator=generator)
        if step == 1:
            noted = int(logits[0].argmax())
            assert noted != 8  # the forced token is not the greedy one here
        sampled = _step(processor, logits)
        assert sampled[1] == int(logits[1].argmax())  # a request without a walk is untouched
        forced_outputs.append(sampled[0])
        free_outputs.append(sampled[1])
        processor.update_state(None)
    assert forced_outputs == [7, 8, 9, noted]


def test_a_branch_after_the_path_is_left_to_greedy_sampling(vllm_api) -> None:
    processor = vllm_api[3](None, torch.device("cpu"), False)
    outputs: list[int] = []
    processor.update_state(_update(vllm_api, 1, added=[(0, _params(vllm_api, [4], branch=1), [1], outputs)]))
    logits = torch.randn(1, VOCAB)
    outputs.append(_step(processor, logits)[0])
    logits = torch.randn(1, VOCAB)
    outputs.append(_step(processor, logits)[0])
    assert outputs == [4, int(logits[0].argmax())]


def test_moved_and_removed_requests_keep_their_own_paths(vllm_api) -> None:
    processor = vllm_api[3](None, torch.device("cpu"), False)
    first: list[int] = []
    second: list[int] = []
    added = [(0, _params(vllm_api, [5, 6, 7]), [1], first), (1, _params(vllm_api, [11, 12]), [1], second)]
    processor.update_state(_update(vllm_api, 2, added=added))
    sampled = _step(processor, torch.randn(2, VOCAB))
    first.append(sampled[0])
    second.append(sampled[1])
    swap = vllm_api[2].SWAP
    processor.update_state(_update(vllm_api, 2, moved=[(0, 1, swap)]))  # the batch swapped their rows
    sampled = _step(processor, torch.randn(2, VOCAB))
    assert (sampled[1], sampled[0]) == (6, 12)
    first.append(sampled[1])
    second.append(sampled[0])
    # The second request finished; the first moves one way into the freed row (vLLM condenses its batch).
    one_way = vllm_api[2].UNIDIRECTIONAL
    processor.update_state(_update(vllm_api, 1, removed=[0], moved=[(1, 0, one_way)]))
    assert list(processor.forcing) == [0]
    assert _step(processor, torch.randn(1, VOCAB))[0] == 7


def test_a_request_added_back_after_its_branch_still_reports_the_argmax(vllm_api) -> None:
    """vLLM drops a request it does not schedule in a step and adds it back later (same parameters and output
    list): the argmax noted at the branch must survive, or the token after the path would be another step's."""
    processor = vllm_api[3](None, torch.device("cpu"), False)
    outputs: list[int] = []
    params = _params(vllm_api, [7, 8, 9], branch=0)
    processor.update_state(_update(vllm_api, 1, added=[(0, params, [1], outputs)]))
    branch_logits = torch.randn(1, VOCAB)
    noted = int(branch_logits[0].argmax())
    outputs.append(_step(processor, branch_logits)[0])
    processor.update_state(_update(vllm_api, 0, removed=[0]))  # not scheduled this step
    assert not processor.forcing
    processor.update_state(_update(vllm_api, 1, added=[(0, params, [1], outputs)]))  # back, in a fresh state
    for _ in range(3):
        outputs.append(_step(processor, torch.randn(1, VOCAB))[0])
    assert outputs == [7, 8, 9, noted]


def test_malformed_walks_are_refused(vllm_api) -> None:
    processor_class = vllm_api[3]
    processor_class.validate_params(_params(vllm_api, [1, 2], branch=2))
    for path, branch in (([1, "2"], None), ([1, 2], 3), ([1], -1)):
        with pytest.raises(ValueError, match="xlh_forced_walk"):
            processor_class.validate_params(_params(vllm_api, path, branch))
    with pytest.raises(ValueError, match="xlh_forced_walk must be a dict"):
        processor_class.validate_params(vllm_api[0](extra_args={"xlh_forced_walk": [1, 2]}))
