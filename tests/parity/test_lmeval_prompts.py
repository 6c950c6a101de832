"""Zero-shot prompts against lm-eval 0.4.13's own templates, rendered with Jinja as lm-eval renders them.

No model is needed: where the prompt strings and stop words are equal, a backend answers both harnesses
the same (the generation parity itself is shown for MGSM direct in test_lmeval.py).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
import yaml

from tasks.mgsm import LANGUAGES, Mgsm, MgsmExample

TASK = Mgsm()
QUESTION = "Janet hat 16 Eier. Wie viele?"
# Documented in tasks/mgsm.py: xlh takes the cue from the MGSM exemplars where lm-eval's differs.
NATIVE_COT_DIFFERS = {"ru": "typo 'Пошаговоерешение:'", "ja": "ASCII colon", "zh": "ASCII colon"}


def _lmeval_prompt(yaml_path: Path) -> tuple[str, list[str]]:
    config = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    template = jinja2.Environment(keep_trailing_newline=True).from_string(config["doc_to_text"])
    return template.render(question=QUESTION, answer=None), config["generation_kwargs"]["until"]


@pytest.mark.parametrize("variant", ["direct", "native_cot", "en_cot"])
@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.code)
def test_mgsm_zero_shot_prompts_equal_lm_eval(lmeval_root: Path, language, variant) -> None:
    theirs, until = _lmeval_prompt(lmeval_root / "mgsm" / variant / f"mgsm_{variant}_{language.code}.yaml")
    (ours,) = TASK.requests(MgsmExample(id="0", question=QUESTION, answer=Decimal(1)), language, variant)
    # lm-eval also stops at "</s>" and "<|im_end|>": model tokens, which xlh's backends stop at themselves.
    assert list(ours.stop) == [word for word in until if word not in ("</s>", "<|im_end|>")]
    if variant == "native_cot" and language.code in NATIVE_COT_DIFFERS:
        assert ours.prompt != theirs
        assert ours.prompt.split("\n")[0] == theirs.split("\n")[0]  # the question line is the same
    else:
        assert ours.prompt == theirs
