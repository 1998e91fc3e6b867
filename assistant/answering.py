"""The default answerer: an answer composed from the excerpts' own sentences, no LLM.

Every sentence of the retrieved passages (and of the notes they cite) is a candidate, scored by
meaning (its vector from the sentence index, made at ingest, against the question's: nothing
but the question is embedded now), by words (IDF-weighted overlap), by what the kind of question
asks for (a date for "when", a person for "who", a number for "how many", a reason for "why"),
by its passage's rank, and by whether it names the thing the question names (the Declaration of
the 46, not of the 83). References, title lines and headings are never claims, unless the
question asks for a source. The best sentences become evidence windows (see
:mod:`assistant.evidence`), joined with ``[n]`` markers; each window's exact span is its quote.
When the evidence is weak the answer is the fixed cannot-answer sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.citations import make_citation, renumber
from assistant.entities import (
    Namesake,
    conflicts_with_initials,
    named_initials,
    namesakes,
    phrase_agreement,
    phrases,
)
from assistant.evidence import Neighbour, Window, sentence_text, spans_of, window
from assistant.lexical import tokenize
from assistant.prompts import CANNOT_ANSWER
from assistant.sentences import is_furniture, is_heading_like, is_reference
from assistant.tuning import Thresholds, Weights
from assistant.types import Answer, Citation, Passage

MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DATE_RE = re.compile(rf"\b(1[89]\d\d|20\d\d)\b|\b({MONTHS})\b", re.I)
NUMBER_RE = re.compile(
    r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|dozen)\b",
    re.I,
)
PERSON_RE = re.compile(r"(?<=\w[\s,(])[A-ZА-Я][a-zа-яё]+(?:[- ][A-ZА-Я][a-zа-яё]+)*")
# A capitalised Latin word that does not open a sentence: a name, a place, an organisation
# (Cyrillic names are left out: the corpus often spells them only in English).
NAME_RE = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w’'-]+)")
REASON_RE = re.compile(
    r"\b(because|since|so that|in order to|due to|owing to|reason|therefore|thus|hence|"
    r"aimed|purpose|intended|sought|wanted|hoped|as a result)\b",
    re.I,
)
SOURCE_QUESTION_RE = re.compile(
    r"\b(where (was|were|is|are|did) .*(published|printed|appear|kept|held|found|stored)|"
    r"(what|which) (is|was|are) the (source|reference|citation|archive)|which (archive|journal|"
    r"newspaper|edition|volume|page)|in what (journal|newspaper|edition|volume)|cited from|"
    r"what page|где (был[аи]? )?(опубликован|напечатан|хранится)|источник)",
    re.I,
)


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage: where it is, what it says, how well it answers."""

    passage: Passage
    rank: int
    index: int
    text: str
    meaning: float
    score: float = 0.0
    whole: bool = False  # the whole passage is one claim (a note, asked for a source)


@dataclass(frozen=True)
class Scored:
    """The candidates, best first, with what was learnt about the question on the way."""

    candidates: list[Candidate]
    support: float
    notes: list[str] = field(default_factory=list)
    judged: float | None = None  # the answer judge's best probability, when there is a judge


def question_kind(question: str) -> str:
    q = question.lower().strip()
    if re.match(r"(when|in what year|what year|what date|on what date|in which year|когда)\b", q):
        return "date"
    if re.match(r"(how many|how much|how long|how old|what percentage|what share|сколько)\b", q):
        return "number"
    if re.match(r"(who|whom|whose|which (person|comrade|leader|member)|кто)\b", q):
        return "person"
    if re.match(r"(why|for what reason|what was the reason|почему|зачем)\b", q):
        return "reason"
    return "general"


def asks_for_source(question: str) -> bool:
    """Whether the question asks where something was published or kept: then references are
    the answer."""
    return bool(SOURCE_QUESTION_RE.search(question))


def _kind_bonus(kind: str, sentence: str) -> float:
    pattern = {"date": DATE_RE, "number": NUMBER_RE, "person": PERSON_RE, "reason": REASON_RE}
    rx = pattern.get(kind)
    return 1.0 if rx is not None and rx.search(sentence) else 0.0


def _none(_p: Passage) -> Passage | None:
    return None


class ExcerptAnswerer:
    """Composes answers from retrieved passages' sentences.

    ``thresholds`` and ``weights`` are the stage's tuning (:mod:`assistant.tuning`), their
    documented defaults unless given.
    """

    def __init__(
        self,
        embed_query: Callable[[str], np.ndarray],
        sentence_vectors: Callable[[Passage], np.ndarray],
        idf: Callable[[str], float],
        *,
        thresholds: Thresholds | None = None,
        weights: Weights | None = None,
        known: Callable[[str], bool] | None = None,
        previous: Neighbour | None = None,
        following: Neighbour | None = None,
        judge: Callable[[str, Sequence[str]], list[float]] | None = None,
    ) -> None:
        self.embed_query = embed_query
        self.sentence_vectors = sentence_vectors
        self.idf = idf
        self.known = known or (lambda _token: True)
        self.previous = previous or _none
        self.following = following or _none
        self.t = thresholds or Thresholds()
        self.w = weights or Weights()
        self.judge = judge

    def answer(
        self, question: str, query: str, passages: Sequence[Passage], linked: list[Passage]
    ) -> Answer:
        """An Answer built from ``passages`` (best first) for ``query`` (the standalone form)."""
        scored = self.score(query, passages)
        if not scored.candidates or self.too_weak(query, passages, scored.support):
            return self.abstain(question, query, passages)
        if scored.judged is not None and scored.judged < self.t.min_judge:
            return self.abstain(question, query, passages)
        windows = self.select(scored.candidates, question_kind(query))
        if not windows:
            return self.abstain(question, query, passages)
        text, citations = compose(windows, [*passages, *linked])  # a note's citing passage
        return Answer(
            question=question,
            text=text,
            citations=citations,
            standalone_question=query,
            notes=scored.notes,
        )

    def too_weak(self, query: str, passages: Sequence[Passage], support: float) -> bool:
        """Whether the best evidence is too weak to answer from."""
        top = passages[: self.t.coverage_passages]
        if support < self.t.min_semantic or self.coverage(query, top) < self.t.min_coverage:
            return True
        return bool(self.unknown_names(query)) and support < self.t.unknown_name_support

    def abstain(self, question: str, query: str, passages: Sequence[Passage]) -> Answer:
        return Answer(
            question=question,
            text=CANNOT_ANSWER,
            abstained=True,
            see_also=list(passages[: self.t.see_also]),
            standalone_question=query,
        )

    def unknown_names(self, query: str) -> list[str]:
        """Names in the question (capitalised, not opening a sentence) found nowhere in the corpus.

        "Normandy", "FIFA": a question about them is not answered by these documents, however
        well its other words match.
        """
        out = []
        for name in NAME_RE.findall(query):
            tokens = tokenize(name)
            if tokens and not any(self.known(t) for t in tokens):
                out.append(name)
        return out

    def coverage(self, query: str, passages: Sequence[Passage]) -> float:
        """IDF-weighted share of the question's words found in the top passages."""
        q = set(tokenize(query))
        if not q:
            return 0.0
        found: set[str] = set()
        for p in passages:
            found |= q & set(tokenize(p.embed_text))
        total = sum(self.idf(t) for t in q)
        return sum(self.idf(t) for t in found) / total if total else 0.0

    # -- scoring ------------------------------------------------------------------------------
    def candidates(self, query: str, passages: Sequence[Passage]) -> list[Candidate]:
        """Every sentence of the passages that can be a claim, with its meaning score."""
        qvec = np.asarray(self.embed_query(query), dtype=np.float32)
        source = asks_for_source(query)
        out: list[Candidate] = []
        seen: set[str] = set()
        for rank, p in enumerate(passages):
            if p.id in seen:
                continue
            seen.add(p.id)
            if p.note_kind == "bibliographic" and not source:
                continue
            spans = spans_of(p)
            vecs = self.sentence_vectors(p)
            meaning = vecs @ qvec if len(vecs) == len(spans) else np.zeros(len(spans))
            if source and p.kind == "note" and spans:
                text = sentence_text(p, (spans[0][0], spans[-1][1]))
                out.append(Candidate(p, rank, 0, text, float(np.max(meaning)), whole=True))
                continue
            for i, span in enumerate(spans):
                text = sentence_text(p, span)
                if self._claim(text, source):
                    out.append(Candidate(p, rank, i, text, float(meaning[i])))
        return out

    def _claim(self, text: str, source: bool) -> bool:
        if len(text.split()) < self.t.min_words or is_furniture(text) or is_heading_like(text):
            return False
        return source or not is_reference(text)

    def score(self, query: str, passages: Sequence[Passage]) -> Scored:
        """The candidate sentences, best first; the best meaning score is the support."""
        cands = self.candidates(query, passages)
        if not cands:
            return Scored([], 0.0)
        q_tokens = set(tokenize(query))
        q_weight = sum(self.idf(t) for t in q_tokens) or 1.0
        kind = question_kind(query)
        source = asks_for_source(query)
        q_phrases = phrases(query)
        w = self.w
        out = []
        for c in cands:
            words = sum(self.idf(t) for t in q_tokens & set(tokenize(c.text))) / q_weight
            agree = phrase_agreement(q_phrases, c.text)
            phrase = w.phrase_match * max(agree, 0) - w.phrase_conflict * max(-agree, 0)
            s = (
                w.meaning * c.meaning
                + w.words * words
                + w.rank / (1.0 + c.rank)
                + w.kind * _kind_bonus(kind, c.text)
                + (w.source * is_reference(c.text) if source else 0.0)
                + phrase
            )
            out.append(replace(c, score=s))
        out.sort(key=lambda c: -c.score)
        out, judged = self._judged(query, out)
        kept, notes = self._one_entity(query, out)
        return Scored(kept, max(c.meaning for c in cands), notes, judged)

    def _judged(self, query: str, ranked: list[Candidate]) -> tuple[list[Candidate], float | None]:
        """The best candidates re-scored with the answer judge's probability, and its best."""
        if self.judge is None:
            return ranked, None
        pool = ranked[: self.t.judge_pool]
        probs = self.judge(query, [c.text for c in pool])
        rescored = [
            replace(c, score=c.score + self.w.judge * p) for c, p in zip(pool, probs, strict=True)
        ]
        rescored.sort(key=lambda c: -c.score)
        return [*rescored, *ranked[self.t.judge_pool :]], max(probs, default=0.0)

    def _one_entity(self, query: str, ranked: list[Candidate]) -> tuple[list[Candidate], list[str]]:
        """Keep to the person the question names: with its initials when it gives them, else
        the best-supported bearer of the surname, saying there are others."""
        wanted = named_initials(query)
        if wanted:
            return [c for c in ranked if not conflicts_with_initials(wanted, c.text)], []
        pool = (c.text for c in ranked[: self.t.namesake_pool])
        found: list[Namesake] = namesakes(query, pool)
        kept = [c for c in ranked if all(n.keeps(c.text) for n in found)]
        return kept, [n.note() for n in found]

    # -- selection ------------------------------------------------------------------------------
    def select(self, ranked: list[Candidate], kind: str) -> list[Window]:
        """The best candidates' windows, within the answer's length, none repeated."""
        chosen: list[Window] = []
        words = 0
        best = ranked[0].score
        for c in ranked:
            if len(chosen) >= self.t.max_windows:
                break
            if chosen and c.score < best * self.t.keep_ratio:
                break
            if any(w.passage.id == c.passage.id and w.first <= c.index <= w.last for w in chosen):
                continue  # already inside a chosen window
            pieces = [Window(c.passage, 0, len(spans_of(c.passage)) - 1, c.score)] if c.whole else (
                window(c.passage, c.index, c.score, kind == "person", self.t.window_words,
                       self.previous, self.following)
            )  # fmt: skip
            n = sum(len(w.text.split()) for w in pieces)
            if not pieces or words + n > self.t.max_words:
                continue
            if any(
                not w.touches(o) and _same_text(w.text, o.text, self.t.repeat_overlap)
                for w in pieces
                for o in chosen
            ):
                continue
            for w in pieces:
                chosen = _add(chosen, w)
            words = sum(len(w.text.split()) for w in chosen)
        return chosen


def _add(chosen: list[Window], w: Window) -> list[Window]:
    """``chosen`` with ``w`` added, merged into a window of the same passage it touches."""
    for i, o in enumerate(chosen):
        if o.touches(w):
            return [*chosen[:i], o.merged(w), *chosen[i + 1 :]]
    return [*chosen, w]


def _same_text(a: str, b: str, overlap: float) -> bool:
    """Two windows that say the same (a sentence repeated in two passages, a quotation given
    twice): more than ``overlap`` of the shorter one's words are the other's."""
    ta, tb = set(tokenize(a)), set(tokenize(b))
    return len(ta & tb) / max(1, min(len(ta), len(tb))) > overlap


def compose(windows: list[Window], linked: list[Passage]) -> tuple[str, list[Citation]]:
    """The answer text and its citations: windows grouped by passage (best passage first, each
    passage's windows in source order), one ``[n]`` per window."""
    order: dict[str, float] = {}
    for w in windows:
        order[w.passage.id] = max(order.get(w.passage.id, -math.inf), w.score)
    # a lead-in and the quotation after it (two passages, one score) stay in source order
    ranked = sorted(windows, key=lambda w: (-order[w.passage.id], w.passage.source, w.start))
    parts = []
    citations = []
    for n, w in enumerate(ranked, start=1):
        parts.append(f"{_sentence(w.text)} [{n}]")
        citations.append(make_citation(n, w.passage, w.start, w.end, linked=linked))
    return renumber(" ".join(parts), citations)


def _sentence(text: str) -> str:
    # A bracketed number left in the source text ("[1927]") must not pass for a citation.
    text = re.sub(r"\[(\d+)\]", r"(\1)", text.strip())
    if text[-1:] in '.?!…"”»)]:':  # a lead-in's colon: its quotation is the next window
        return text
    # the passage ends inside the sentence (a page break, an over-long sentence): say so
    return text.rstrip(",;:—– ") + " …"


def idf_function(doc_freq: dict[str, int], n_docs: int) -> Callable[[str], float]:
    """BM25-style IDF; unseen words get the highest weight."""

    def idf(token: str) -> float:
        df = doc_freq.get(token, 0)
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    return idf
