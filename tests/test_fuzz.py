"""Random Unicode through the parser, the chunker and the question path: nothing crashes, and
every passage is still ``source[start:end]``.

The text mixes arbitrary characters with the shapes the parser looks for (``<sup>1</sup>``,
``[3]``, ``⁴``, ``1. `` items, headings, blank lines, ``\\r\\n``, control characters, NFD
accents). The pure functions get about 200 examples each; the one property that runs the whole
chain (a question through ``Assistant.ask``, on the fake embedder) gets 50.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from assistant import Answer, Assistant, IngestError, InvalidQuestionError, Settings
from assistant.answering import question_kind
from assistant.citations import MARKER_RE
from assistant.conversation import (
    context_terms,
    is_follow_up,
    standalone_question,
    trim_history,
    validate_question,
)
from assistant.corpus import SourceFile, read_source
from assistant.embedding import MODEL_MAX_TOKENS, PACKAGED, token_counts
from assistant.lexical import tokenize
from assistant.parsing import clean, parse
from assistant.passages import Chunker
from assistant.prompts import CANNOT_ANSWER
from assistant.reply_check import check_reply
from assistant.sentences import sentence_spans
from assistant.testing import fake_answerer
from assistant.types import DocumentInfo, Passage
from tests.conftest import SMALL_DOCS, fake, small_corpus
from tests.helpers import check_citations

# The autouse settings fixture only sets environment variables: sharing it between examples
# is harmless.
PURE = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CHAIN = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

MARKERS = [
    "<sup>1</sup>", "<sup>12</sup>", "<sup> 3 </sup>", "[3]", "[27]", "⁴", "¹²", "1. ", "2. ",
    "12. ", "- [1.](#n1) ", "\n\n", "\n", "\r\n", "\r\n\r\n", "\n \t\n", " ", "\t", "\u00a0",
    "\ufeff", "\u200b", "\u200d", "\x00", "\x07", "\x0b", "\x0c", "\x1b[0m", "\u0301", "e\u0301",
    "*", "**", "_", "...", ". ", "? ", "! ", "… ", "“", "”", "«", "»", "’", "Notes", "Contents",
    "[Classics]", "Join us", "English", "1. The Birth of the Party", "[Introduction]",
    "[2. The Fight](#x)", "V. I. Lenin", "cf. p. 5", "Ibid.", "Сталин", "Ё", "ПСС, Т. 35",
    "The plenum met in October and voted.", "Trotsky wrote to Krupskaya in May 1927.",
    "A Note On The Archive Papers",
]  # fmt: skip
SENTENCES = [
    "The relations between Trotsky and Krupskaya were never very friendly.",
    "They first met in London in October, 1902, when Trotsky arrived from Siberian exile.",
    "You behave similarly with the slogan of the defense of the USSR.",
    "Criticism of this sort becomes transformed into a worthless, lifeless trinket.",
    "We will swim against the stream, even if you repeat aloud after Kosior the word “fuss”.",
    "Отношения между Троцким и Крупской никогда не были дружескими.",
]
NOTE_BLOCKS = [
    "\n\n<sup>1</sup> A fuller narrative may be found in my book on Krupskaya.\n\n",
    "\n\n[3]\n\nThis refers to the commission composed of Dzerzhinsky and others.\n\n",
    "\n\n1. Lenin, CW, Volume 26, p. 339.\n2. Ibid., p. 257.\n\n",
    "\n\nNotes\n\n3. See the letter of 8 October 1923.\n\n",
]
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
PIECES = st.lists(
    st.one_of(st.sampled_from(MARKERS), ANY_TEXT, st.sampled_from(SENTENCES),
              st.sampled_from(NOTE_BLOCKS)),
    max_size=100,
)  # fmt: skip
TEXTS = st.one_of(
    PIECES.map("".join),
    PIECES.map(lambda p: unicodedata.normalize("NFD", "".join(p))),
)
KINDS = st.sampled_from(["document", "book", "letter", "article"])
QUESTIONS = st.one_of(
    ANY_TEXT,
    st.lists(st.one_of(st.sampled_from(MARKERS), ANY_TEXT), max_size=8).map("".join),
    st.sampled_from(["", " ", "?", "Who was Kosior?", "And why?", "x" * 300, "Что это?"]),
)
VALID_MESSAGES = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant"]), "content": st.one_of(ANY_TEXT, TEXTS)}
)
MESSAGES = st.one_of(
    VALID_MESSAGES,
    st.fixed_dictionaries({"role": ANY_TEXT, "content": ANY_TEXT}),
    st.fixed_dictionaries({"role": st.just("user"), "content": st.none() | st.integers()}),
    st.just("not a message"),
)
SETTINGS = Settings(max_question_chars=200, max_history_turns=6)


def count(texts: list[str]) -> list[int]:
    return token_counts(PACKAGED, texts)


def source(text: str, kind: str) -> SourceFile:
    info = DocumentInfo(id="fuzz", title="Fuzz Document", authors=("A. Author",), date="",
                        kind=kind, languages=(), source_note="", source="fuzz.txt")  # fmt: skip
    return SourceFile(info=info, path=Path("fuzz.txt"), text=text)


def cut(text: str, kind: str = "document") -> list[Passage]:
    return Chunker(count, 200).passages(source(text, kind))


# -- the parser and the chunker ----------------------------------------------------------------
@PURE
@given(text=TEXTS, kind=KINDS)
def test_blocks_are_disjoint_spans_of_the_source(text: str, kind: str) -> None:
    covered: set[int] = set()
    for block in parse(text, kind):
        for s, e in block.segments:
            assert 0 <= s < e <= len(text)
            assert text[s:e].strip(), (s, e)
            span = set(range(s, e))
            assert not covered & span  # no character belongs to two blocks
            covered |= span


@PURE
@given(text=TEXTS, kind=KINDS)
def test_every_passage_is_its_source_span(text: str, kind: str) -> None:
    passages = cut(text, kind)
    event(f"passages: {min(len(passages), 3)}{'+' if len(passages) >= 3 else ''}")
    event(f"with a note: {any(p.kind == 'note' for p in passages)}")
    ids = [p.id for p in passages]
    assert len(ids) == len(set(ids))
    for p in passages:
        assert p.text == text[p.start : p.end] and p.text.strip()
        assert set(p.notes) | set(p.refs) <= set(ids)
        assert p.embed_text == unicodedata.normalize("NFC", p.embed_text)
    if passages:  # +2 for [CLS] and [SEP], which the model adds
        assert max(count([p.embed_text for p in passages])) + 2 <= MODEL_MAX_TOKENS


@PURE
@given(text=TEXTS)
def test_clean_text_is_nfc_without_markup_or_control_characters(text: str) -> None:
    out = clean(text)
    assert out == unicodedata.normalize("NFC", out) and out == out.strip()
    assert "<sup>" not in out and "  " not in out
    assert not any(unicodedata.category(c) == "Cc" for c in out)


@PURE
@given(data=st.binary(max_size=300) | TEXTS.map(lambda t: t.encode("utf-8-sig")))
def test_any_bytes_decode_or_fail_by_name(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "odd file.txt"
    path.write_bytes(data)
    try:
        text = read_source(path)
        event("decoded")
    except IngestError as exc:
        event("refused by name")
        assert str(exc).startswith("odd file.txt: ") and "UTF-8" in str(exc)
        return
    for p in cut(text):
        assert p.text == text[p.start : p.end]


# -- the question path -------------------------------------------------------------------------
@PURE
@given(question=QUESTIONS, history=st.lists(MESSAGES, max_size=12))
def test_questions_and_histories_are_accepted_or_refused_cleanly(
    question: str, history: list[object]
) -> None:
    try:
        q = validate_question(question, SETTINGS.max_question_chars)
    except InvalidQuestionError as exc:
        assert str(exc).endswith(".")  # a sentence that says what to do
        q = None
    if q is not None:
        assert q == question.strip() and 0 < len(q) <= SETTINGS.max_question_chars
        assert any(unicodedata.category(c)[0] in "LN" for c in q)
    malformed = any(
        not isinstance(m, dict)
        or m.get("role") not in ("user", "assistant")
        or not isinstance(m.get("content"), str)
        for m in history
    )
    try:
        kept, notes = trim_history(history, SETTINGS)  # type: ignore[arg-type]
    except InvalidQuestionError:
        assert malformed
        return
    assert not malformed
    limit, cap = SETTINGS.max_history_turns, 4 * SETTINGS.max_question_chars
    usable = [c for m in history if isinstance(c := m["content"], str) and c.strip()]  # type: ignore[index]
    assert [m.content for m in kept] == [c[:cap] for c in usable[-limit:]]
    # anything left out or cut is said in a note
    assert bool(notes) == (len(usable) > limit or any(len(c) > cap for c in usable[-limit:]))
    if q is not None:
        query = standalone_question(q, kept)
        assert query.startswith(q)
        assert query == q or is_follow_up(q)
        assert isinstance(context_terms(kept), list)
        assert question_kind(query) in ("date", "number", "person", "reason", "general")
        tokenize(query)


@PURE
@given(text=TEXTS, data=st.data())
def test_the_default_answerer_cites_only_verbatim_spans(text: str, data: st.DataObject) -> None:
    passages = cut(text)
    assume(passages)
    p = data.draw(st.sampled_from(passages[:3]))
    sentences = [clean(p.text[u.start : u.end]) for u in sentence_spans(p.text, 0, len(p.text))]
    held = [s for s in sentences if len(tokenize(s)) >= 5] or sentences  # a sentence it holds
    question = data.draw(st.one_of(QUESTIONS, st.sampled_from(held)))
    answerer = fake_answerer()
    ans = answerer.answer(question, question, passages[:6], passages[6:8])
    event(f"abstained: {ans.abstained}")
    assert isinstance(ans, Answer)
    if ans.abstained:
        assert ans.text == CANNOT_ANSWER and ans.citations == []
    _assert_resolves(ans, text)


@PURE
@given(text=TEXTS, reply=st.lists(
    st.one_of(st.sampled_from(["[1]", "[2]", "[3]", "[9]", "[0]", " “", "” ", '"', ". ", "\n",
                               CANNOT_ANSWER]), ANY_TEXT), max_size=20,
).map("".join))  # fmt: skip
def test_a_random_model_reply_yields_only_verbatim_citations(text: str, reply: str) -> None:
    passages = cut(text)
    assume(passages)
    excerpts = dict(enumerate(passages[:4], start=1))
    out, citations, _ = check_reply(reply, excerpts, passages[4:6])
    event(f"citations kept: {bool(citations)}")
    ans = Answer(question="q", text=out, citations=citations)
    _assert_resolves(ans, text)
    assert {c.passage_id for c in citations} <= {p.id for p in excerpts.values()}


def _assert_resolves(ans: Answer, text: str) -> None:
    """Markers are numbered 1..k by first use and name a citation; quotes are the source's."""
    used = [int(m) for m in MARKER_RE.findall(ans.text)]
    assert list(dict.fromkeys(used)) == [c.n for c in ans.citations]
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    for c in ans.citations:
        assert c.quote and c.quote == text[c.start : c.end]


# -- random questions through the whole chain (the fake embedder) -----------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    tmp = tmp_path_factory.mktemp("fuzz")
    a = fake(
        Settings(
            corpus_dir=small_corpus(tmp / "corpus", SMALL_DOCS[:1]), vectorstore_dir=tmp / "vs"
        )
    )
    a.ingest()
    return a


SEDOVA_QUESTIONS = [
    "Why did Natalia Sedova reject the slogan of the defense of the USSR?",
    "What does Sedova say about criticism of the Soviet bureaucracy?",
    "What is the most dangerous enemy in Sedova's letter?",
]
NOISY = st.tuples(  # answerable questions with markers, control characters or NFD accents
    st.sampled_from(SEDOVA_QUESTIONS), st.lists(st.sampled_from(MARKERS), max_size=2)
).map(lambda t: unicodedata.normalize("NFD", t[0] + "".join(t[1])))
ASKED = st.one_of(  # answerable first: hypothesis leans to the first branch
    NOISY,
    st.tuples(
        st.sampled_from(["Why did Sedova write", "What did she say about", "And why", "Who"]),
        ANY_TEXT,
    ).map(" ".join),
    QUESTIONS,
)


@CHAIN
@given(question=ASKED, history=st.just([]) | st.lists(VALID_MESSAGES, max_size=4))
def test_random_questions_through_the_real_chain(
    tiny: Assistant, question: str, history: list[dict[str, str]]
) -> None:
    try:
        ans = tiny.ask(question, history=history)
    except InvalidQuestionError:
        event("refused")
        return
    event(f"abstained: {ans.abstained} (history: {bool(history)})")
    assert ans.text and (ans.citations or ans.abstained)
    check_citations(ans)  # verbatim in the file on disk
