"""What flows through the chain: the question as asked, then one frozen state per question.

    AskInput (question, history, doc_ids, mode; validated)
      -> QuestionState (+ standalone query, notes, the index snapshot taken once)
      -> QuestionState with hits and their linked notes
      -> Answer (carrying the passages it was built from)

The snapshot is taken once, at the start: a question is answered from one index from start to
end, whatever an ingest does meanwhile (see :class:`assistant.snapshot.Snapshot`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.conversation import Turn
from assistant.errors import InvalidQuestionError
from assistant.safe_text import escaped
from assistant.tuning import LinkTuning

if TYPE_CHECKING:
    from assistant.snapshot import Snapshot
    from assistant.types import Answer, Passage

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = get_args(Mode)


class AskInput(BaseModel):
    """The chain's input: a question, the chat so far, which documents, which search."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    question: Any = Field(description="The question, in English or Russian.")
    history: list[Any] = Field(
        default_factory=list,
        description="Earlier messages: {'role', 'content'} dicts, LangChain messages or "
        "(role, content) pairs, oldest first.",
    )
    doc_ids: list[str] | None = Field(
        None, description="Search only these documents (`assistant docs` lists them); None: all."
    )
    mode: Mode = Field("hybrid", description="Search: hybrid (default), dense or lexical.")


def parse_input(inp: object) -> AskInput:
    """The chain's input checked: an :class:`AskInput` or a dict of its fields.

    Raises:
        InvalidQuestionError: an unknown field, an unknown mode, doc_ids not a list.
    """
    if isinstance(inp, AskInput):
        return inp
    if isinstance(inp, str):
        inp = {"question": inp}
    if not isinstance(inp, dict):
        raise InvalidQuestionError(
            f"the chain takes a dict with {', '.join(AskInput.model_fields)} (or an AskInput), "
            f"not {type(inp).__name__}."
        )
    try:
        return AskInput.model_validate({k: v for k, v in inp.items() if v is not None})
    except ValidationError as exc:
        raise InvalidQuestionError(_explain(exc)) from None


def check_mode(mode: object) -> Mode:
    """``mode`` if it is a search mode, else an error naming the modes."""
    if mode not in MODES:
        raise InvalidQuestionError(
            f"unknown search mode '{escaped(str(mode))}'; the modes are: {', '.join(MODES)}."
        )
    return mode  # type: ignore[return-value]


def _explain(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or "input"
    if err["type"] == "extra_forbidden":
        return (
            f"unknown input field '{escaped(field)}'; the chain takes: "
            f"{', '.join(AskInput.model_fields)}."
        )
    if field == "mode":
        return (
            f"unknown search mode '{escaped(str(err.get('input')))}'; the modes are: "
            + ", ".join(MODES)
            + "."
        )
    if field.startswith("doc_ids"):
        return (
            "doc_ids must be a list of document ids (`assistant docs` lists them), or None for all."
        )
    return f"{field}: {err['msg']}."


@dataclass(frozen=True)
class QuestionState:
    """One question on its way through the chain; each step returns a new one."""

    question: str
    history: tuple[Turn, ...]
    query: str  # the standalone form a retriever can use (a follow-up resolved)
    doc_ids: tuple[str, ...] | None
    mode: Mode
    notes: tuple[str, ...]  # what the reader should know: trimmed history, an ingest at work
    snapshot: Snapshot  # the index this question is answered from, start to end
    passages: tuple[Passage, ...] = ()  # the hits, best first
    linked: tuple[Passage, ...] = ()  # notes and passages the hits link to
    linked_candidates: int = LinkTuning.linked_candidates  # of them, join the answerer's

    def with_hits(self, passages: Sequence[Passage], linked: Sequence[Passage]) -> QuestionState:
        return replace(self, passages=tuple(passages), linked=tuple(linked))

    def candidates(self) -> list[Passage]:
        """What the default answerer composes from: the hits, then the first few of their
        linked notes (a note may hold the answer)."""
        return [*self.passages, *self.linked[: self.linked_candidates]]

    def excerpt_answer(self) -> Answer:
        """The default answerer's answer: composed from the candidates' excerpts."""
        return self.snapshot.answerer.answer(
            self.question, self.query, self.candidates(), list(self.linked)
        )
