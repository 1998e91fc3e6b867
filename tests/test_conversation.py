"""Questions and history: validation, trimming, follow-up rewriting (no model needed)."""

from __future__ import annotations

import pytest

from assistant.conversation import (
    Turn,
    is_follow_up,
    standalone_question,
    trim_history,
    validate_question,
)
from assistant.errors import InvalidQuestionError
from assistant.settings import Settings


@pytest.mark.parametrize("bad", ["", "   \n\t", "?!...", "—«»", None, 42])
def test_empty_punctuation_or_non_text_questions_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidQuestionError):
        validate_question(bad, 1000)


def test_over_long_question_names_the_limit() -> None:
    with pytest.raises(InvalidQuestionError, match="limit is 50"):
        validate_question("why " * 20, 50)


def test_history_is_trimmed_with_a_visible_note() -> None:
    settings = Settings(max_history_turns=4)
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(10)
    ]
    kept, notes = trim_history(history, settings)
    assert [m.content for m in kept] == ["m6", "m7", "m8", "m9"]
    assert notes and "6 older" in notes[0]


def test_malformed_history_is_rejected() -> None:
    with pytest.raises(InvalidQuestionError, match="history message 0"):
        trim_history([{"role": "system", "content": "x"}], Settings())


def test_history_takes_dicts_langchain_messages_and_pairs_alike() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    want = (Turn("user", "Who was Kosior?"), Turn("assistant", "A party secretary [1]."))
    as_dicts = [{"role": "user", "content": "Who was Kosior?"},
                {"role": "assistant", "content": "A party secretary [1]."}]  # fmt: skip
    as_messages = [HumanMessage("Who was Kosior?"), AIMessage("A party secretary [1].")]
    as_pairs = [("human", "Who was Kosior?"), ("ai", "A party secretary [1].")]
    for history in (as_dicts, as_messages, as_pairs):
        assert trim_history(history, Settings())[0] == want


@pytest.mark.parametrize("bad", [[("system", "x")], [("user",)], ["just text"], "user: hi"])
def test_a_message_of_no_known_shape_is_refused_naming_the_shapes(bad: object) -> None:
    with pytest.raises(InvalidQuestionError, match=r"HumanMessage/AIMessage|list of messages"):
        trim_history(bad, Settings())  # type: ignore[arg-type]


def test_follow_up_is_rewritten_with_the_previous_turn() -> None:
    history = [
        Turn("user", "Why did Trotsky write to Krupskaya in May 1927?"),
        Turn("assistant", "Because ... [1]"),
    ]
    q = "And what did she reply?"
    assert is_follow_up(q)
    rewritten = standalone_question(q, history)
    assert rewritten.startswith(q)
    assert "Krupskaya" in rewritten and "1927" in rewritten


def test_standalone_question_is_left_alone() -> None:
    history = [Turn("user", "Who was Kosior?")]
    q = "What did Rogovin write about the Georgian incident of 1922?"
    assert not is_follow_up(q)
    assert standalone_question(q, history) == q
