"""Questions and chat history: validation, trimming, and follow-up resolution without an LLM.

A follow-up ("And what did he say about the secretaries?") means nothing to a retriever on its
own. Without an LLM it is rewritten deterministically: the people, documents and topic words
of the previous user turns are added to it when it leans on them (a pronoun, a leading "and",
no name of its own).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import InvalidQuestionError
from assistant.safe_text import escaped, first_surrogate

if TYPE_CHECKING:
    from assistant.settings import Settings

Role = Literal["user", "assistant"]
# A chat message as callers give it: {"role": ..., "content": ...}, a LangChain message
# (HumanMessage, AIMessage) or a (role, content) pair; roles "user"/"human", "assistant"/"ai".
HistoryItem = Any
History = Sequence[HistoryItem]
ROLES: dict[str, Role] = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
}


@dataclass(frozen=True)
class Turn:
    """One message of the chat, as the chain keeps it."""

    role: Role
    content: str


MAX_K = 500  # most passages one search shows: beyond this it is a dump of the store, not a search

FOLLOW_UP_RE = re.compile(
    r"^(and|but|so|also|then|what about|how about|why|и|а)\b|"
    r"\b(he|him|his|she|her|hers|they|them|their|it|its|this|that|these|those|there|"
    r"the letter|the book|the author|он|она|они|его|её|их|это)\b",
    re.I,
)
NAME_RE = re.compile(r"\b[A-ZА-Я][\w’'-]+(?:\s+[A-ZА-Я][\w’'-]+)*")
QUESTION_WORDS = {
    "What", "Who", "Whom", "Why", "When", "Where", "Which", "How", "Did", "Does", "Do", "Was",
    "Were", "Is", "Are", "And", "But", "So", "In", "On", "According", "Can", "Could", "Would",
    "Tell", "Give", "List", "Name", "The", "A", "An", "Also", "Then", "Что", "Кто", "Почему",
    "Когда", "Как", "Где", "И", "А",
}  # fmt: skip


def validate_question(question: object, max_chars: int) -> str:
    """The question stripped, or InvalidQuestionError saying what is wrong with it."""
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text; type a question.")
    check_text(question, "the question")
    q = question.strip()
    if not q:
        raise InvalidQuestionError("the question is empty; type a question about the documents.")
    if not any(unicodedata.category(c)[0] in "LN" for c in q):
        raise InvalidQuestionError(
            "the question has no words, only punctuation or symbols; type a question."
        )
    if len(q) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(q)} characters long; the limit is {max_chars}. "
            "Shorten it (ask one thing at a time)."
        )
    return q


def check_text(text: str, what: str) -> None:
    """InvalidQuestionError if ``text`` holds bytes that were not UTF-8 (lone surrogates, as
    Python decodes them from arguments and terminals) or a code point no encoder accepts."""
    i = first_surrogate(text)
    if i is not None:
        raise InvalidQuestionError(
            f"{what} is not valid UTF-8 text: character {i + 1} is the undecodable byte or lone "
            f"surrogate {escaped(text[i])}; type it again in UTF-8."
        )


def validate_k(k: object) -> int:
    """How many passages to return: 1 to :data:`MAX_K` (a store holding fewer gives all)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidQuestionError(
            f"k must be a whole number from 1 to {MAX_K} (how many passages to show), "
            f"not {escaped(str(k))}."
        )
    return k


def validate_doc_ids(doc_ids: object, known: list[str]) -> list[str] | None:
    """The document ids to search (None: all), each checked to be one the store holds."""
    if doc_ids is None:
        return None
    if isinstance(doc_ids, str) or not isinstance(doc_ids, list | tuple):
        raise InvalidQuestionError("doc_ids must be a list of document ids, or None for all.")
    unknown = [d for d in doc_ids if not isinstance(d, str) or d not in known]
    if unknown:
        names = ", ".join(f"'{escaped(str(d))}'" for d in unknown)
        raise InvalidQuestionError(
            f"unknown document id {names}; the documents are: {', '.join(known)} "
            "(`assistant docs` or Assistant.documents() lists them with their titles)."
        )
    return list(doc_ids) or None


def searched_ids(known: Sequence[str], doc_ids: Sequence[str] | None) -> tuple[str, ...]:
    """The ids of ``known`` that a search limited to ``doc_ids`` covers (None: all)."""
    wanted = set(doc_ids or known)
    return tuple(i for i in known if i in wanted)


def trim_history(history: History | None, settings: Settings) -> tuple[tuple[Turn, ...], list[str]]:
    """Valid history messages, the most recent ``max_history_turns`` of them, plus notes
    saying how many older ones were left out and how many long ones were cut (never silently)."""
    if not history:
        return (), []
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise InvalidQuestionError(
            "history must be a list of messages: {'role', 'content'} dicts, LangChain messages "
            "or (role, content) pairs."
        )
    cap = settings.max_question_chars * 4  # an earlier answer may be longer than a question
    clean: list[Turn] = []
    lengths: list[int] = []
    for i, msg in enumerate(history):
        role, content = _role_and_content(i, msg)
        check_text(content, f"history message {i}")
        if content.strip():
            clean.append(Turn(role, content[:cap]))
            lengths.append(len(content))
    limit = settings.max_history_turns
    notes = []
    if len(clean) > limit:
        dropped = len(clean) - limit
        notes.append(
            f"Only the last {limit} messages of the chat were used ({dropped} older ones left out)."
        )
    if cut := sum(n > cap for n in lengths[-limit:]):
        notes.append(f"{cut} long chat message(s) were cut to their first {cap} characters.")
    return tuple(clean[-limit:]), notes


def _role_and_content(i: int, msg: object) -> tuple[Role, str]:
    """A message's role and text, whichever of the accepted shapes it has."""
    from langchain_core.messages import BaseMessage

    raw_role: object
    content: object
    if isinstance(msg, Turn):
        return msg.role, msg.content
    if isinstance(msg, BaseMessage):
        raw_role, content = msg.type, str(msg.text)
    elif isinstance(msg, dict):
        raw_role, content = msg.get("role"), msg.get("content")
    elif isinstance(msg, tuple | list) and len(msg) == 2:
        raw_role, content = msg
    else:
        raw_role, content = None, None
    role = ROLES.get(raw_role) if isinstance(raw_role, str) else None
    if role is None or not isinstance(content, str):
        got = escaped(str(raw_role)) if raw_role is not None else type(msg).__name__
        raise InvalidQuestionError(
            f"history message {i} ({got}) must be a user or assistant message with text: "
            "{'role': 'user'|'assistant', 'content': str}, a HumanMessage/AIMessage, or a "
            "('user'|'assistant', str) pair."
        )
    return role, content


def is_follow_up(question: str) -> bool:
    """Whether the question leans on earlier turns (pronouns, a leading 'and', no name)."""
    names = [n for n in NAME_RE.findall(question) if n.split()[0] not in QUESTION_WORDS]
    return bool(FOLLOW_UP_RE.search(question)) or (not names and len(question.split()) <= 5)


def context_terms(history: Sequence[Turn], max_turns: int = 3) -> list[str]:
    """The last user turn's words, then the names of the turns before it."""
    user_turns = [m.content for m in history if m.role == "user"][-max_turns:]
    if not user_turns:
        return []
    terms = [user_turns[-1].strip().rstrip("?")]
    for text in reversed(user_turns[:-1]):
        for name in NAME_RE.findall(text):
            words = [w for w in name.split() if w not in QUESTION_WORDS]
            if words and " ".join(words) not in terms[0]:
                terms.append(" ".join(words))
    return list(dict.fromkeys(terms))


def standalone_question(question: str, history: Sequence[Turn]) -> str:
    """The question as a retriever can use it: unchanged, or with the earlier turns' context."""
    if not history or not is_follow_up(question):
        return question
    terms = context_terms(history)
    if not terms:
        return question
    return f"{question} ({'; '.join(terms)})"
