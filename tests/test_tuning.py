"""The tuning module keeps its promise: every knob says where its value came from."""

from __future__ import annotations

import ast
import inspect
import string

from assistant import prompts, tuning
from assistant.settings import Settings

PROVENANCE = ("dev", "by hand", "training regions", "usual value", "the scale")


def _field_comments() -> dict[str, str]:
    """Each dataclass field of assistant.tuning, with the comments on and just above its line."""
    source = inspect.getsource(tuning)
    lines = source.splitlines()
    out = {}
    for cls in ast.parse(source).body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for node in cls.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                i = node.lineno - 1
                above = []
                while i > 0 and lines[i - 1].strip().startswith("#"):
                    i -= 1
                    above.append(lines[i])
                out[f"{cls.name}.{node.target.id}"] = " ".join([*above, lines[node.lineno - 1]])
    return out


def test_every_knob_says_what_it_was_tuned_on() -> None:
    comments = _field_comments()
    assert len(comments) > 30
    missing = [name for name, text in comments.items()
               if "#" not in text or not any(p in text for p in PROVENANCE)]  # fmt: skip
    assert missing == []


def test_the_answer_length_is_the_settings() -> None:
    default = Settings.model_fields["max_answer_words"].default
    assert tuning.Thresholds().max_words == default


def test_the_llm_prompt_takes_its_word_limit() -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(prompts.ANSWER_SYSTEM_PROMPT) if f}
    assert fields == {"cannot_answer", "max_words"}
    assert "at most 90 words" in prompts.ANSWER_SYSTEM_PROMPT.format(
        cannot_answer=prompts.CANNOT_ANSWER, max_words=90
    )
