"""The default answerer: an answer composed from the excerpts' own sentences, no LLM.

Each candidate sentence of the retrieved passages is scored by meaning (cosine with the
question), by words (IDF-weighted overlap) and by what the kind of question asks for (a date
for "when", a person for "who", a number for "how many", a reason for "why"). The best few,
within about 120 words, are joined with ``[n]`` markers; their exact spans become the quotes.
When the evidence is weak the answer is the fixed cannot-answer sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.citations import make_citation, renumber
from assistant.lexical import tokenize
from assistant.parsing import clean
from assistant.passages import sentence_spans
from assistant.prompts import CANNOT_ANSWER
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


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    rank: int
    start: int
    end: int
    text: str  # cleaned sentence, as shown in the answer
    score: float = 0.0
    first: bool = False  # the first sentence of its passage


@dataclass(frozen=True)
class Thresholds:
    """When the evidence is too weak to answer (tuned on eval/questions/dev.jsonl)."""

    min_semantic: float = 0.47
    min_coverage: float = 0.3
    max_words: int = 120
    max_sentences: int = 5
    keep_ratio: float = 0.6
    semantic_pool: int = 6  # sentences embedded per question (the cost of an answer)
    semantic_words: int = 30  # of each, the words embedded ...
    semantic_tokens: int = 80  # ... and at most this many word pieces (Russian takes 2-4 a word)
    # a question naming something the documents never mention is not answered unless a
    # sentence matches it this closely anyway (a misspelt name, say)
    unknown_name_support: float = 0.7


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


def _kind_bonus(kind: str, sentence: str) -> float:
    pattern = {"date": DATE_RE, "number": NUMBER_RE, "person": PERSON_RE, "reason": REASON_RE}
    rx = pattern.get(kind)
    return 1.0 if rx is not None and rx.search(sentence) else 0.0


class ExcerptAnswerer:
    """Composes answers from retrieved passages' sentences."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        idf: Callable[[str], float],
        thresholds: Thresholds | None = None,
        embed_query: Callable[[str], np.ndarray] | None = None,
        known: Callable[[str], bool] | None = None,
        previous: Callable[[Passage], Passage | None] | None = None,
    ) -> None:
        self.embed = embed
        self.embed_query = embed_query or (lambda q: self.embed([q])[0])
        self.idf = idf
        self.known = known or (lambda _token: True)
        self.previous = previous or (lambda _passage: None)
        self.t = thresholds or Thresholds()

    def answer(
        self, question: str, query: str, passages: Sequence[Passage], linked: list[Passage]
    ) -> Answer:
        """An Answer built from ``passages`` (best first) for ``query`` (the standalone form)."""
        cands = self._candidates(passages)
        if not cands:
            return self.abstain(question, query, passages)
        scored, support = self._score(query, cands)
        coverage = self.coverage(query, passages[:3])
        if support < self.t.min_semantic or coverage < self.t.min_coverage:
            return self.abstain(question, query, passages)
        if self.unknown_names(query) and support < self.t.unknown_name_support:
            return self.abstain(question, query, passages)
        chosen = self._select(scored, question_kind(query))
        text, citations = self._compose(chosen, linked)
        return Answer(question=question, text=text, citations=citations, standalone_question=query)

    def abstain(self, question: str, query: str, passages: Sequence[Passage]) -> Answer:
        return Answer(
            question=question,
            text=CANNOT_ANSWER,
            abstained=True,
            see_also=list(passages[:3]),
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

    def _candidates(self, passages: Sequence[Passage]) -> list[Candidate]:
        out: list[Candidate] = []
        for rank, p in enumerate(passages):
            for i, u in enumerate(sentence_spans(p.text, 0, len(p.text))):
                text = clean(p.text[u.start : u.end])
                if len(text.split()) >= 5 and not _shouting(text):
                    out.append(
                        Candidate(p, rank, p.start + u.start, p.start + u.end, text, first=i == 0)
                    )
        return out

    def _context(self, c: Candidate, kind: str) -> Candidate | None:
        """The sentence before ``c`` when ``c`` cannot stand alone, from its passage or the one
        before it in the document.

        "He called Stalin 'the main member of the Politburo'" or "— but openly said to me: ..."
        names nobody: who "he" is, or who spoke, is in the sentence before.
        """
        if not _dangling(c.text, kind):
            return None
        p = c.passage
        if c.first:
            prev = self.previous(p)
            if prev is None:
                return None
            p, end = prev, len(prev.text)
        else:
            end = c.start - p.start
        spans = sentence_spans(p.text, 0, end)
        if not spans:
            return None
        u = spans[-1]
        text = clean(p.text[u.start : u.end])
        if not text or _shouting(text):
            return None
        return Candidate(p, c.rank, p.start + u.start, p.start + u.end, text, c.score)

    def _score(self, query: str, cands: list[Candidate]) -> tuple[list[Candidate], float]:
        """Cheap scores (words, kind, rank) for all; meaning only for the best few of them."""
        q_tokens = set(tokenize(query))
        q_weight = sum(self.idf(t) for t in q_tokens) or 1.0
        kind = question_kind(query)
        cheap = []
        for c in cands:
            lex = sum(self.idf(t) for t in q_tokens & set(tokenize(c.text))) / q_weight
            bonus = _kind_bonus(kind, c.text)
            cheap.append((0.3 * lex + 0.1 * bonus + 0.1 / (1.0 + c.rank), c))
        cheap.sort(key=lambda x: -x[0])
        pool = cheap[: self.t.semantic_pool]
        # A sentence's first words carry its meaning; long ones would dominate the cost.
        heads = [" ".join(c.text.split()[: self.t.semantic_words]) for _, c in pool]
        sem = self.embed(heads) @ self.embed_query(query)
        out = [
            replace(c, score=base + 0.5 * float(s)) for (base, c), s in zip(pool, sem, strict=True)
        ]
        out.sort(key=lambda c: -c.score)
        return out, float(np.max(sem))

    def _select(self, scored: list[Candidate], kind: str = "general") -> list[Candidate]:
        chosen: list[Candidate] = []
        words = groups = 0
        best = scored[0].score
        for c in scored:
            ctx = self._context(c, kind)
            group = [ctx, c] if ctx is not None else [c]
            n = sum(len(g.text.split()) for g in group)
            if chosen and (c.score < best * self.t.keep_ratio or words + n > self.t.max_words):
                continue
            if any(_overlap(c.text, o.text) > 0.6 for o in chosen):
                continue
            chosen.extend(g for g in group if all((g.start, g.end) != (o.start, o.end)
                                                  for o in chosen))  # fmt: skip
            words += n
            groups += 1
            if groups >= self.t.max_sentences:  # a sentence with its context counts once
                break
        return chosen

    def _compose(
        self, chosen: list[Candidate], linked: list[Passage]
    ) -> tuple[str, list[Citation]]:
        numbers: dict[str, int] = {}
        spans: dict[str, tuple[int, int]] = {}
        parts = []
        for c in chosen:
            pid = c.passage.id
            n = numbers.setdefault(pid, len(numbers) + 1)
            s, e = spans.get(pid, (c.start, c.end))
            spans[pid] = (min(s, c.start), max(e, c.end))
            parts.append(f"{_sentence(c.text)} [{n}]")
        by_id = {c.passage.id: c.passage for c in chosen}
        citations = [
            make_citation(n, by_id[pid], *spans[pid], linked=linked) for pid, n in numbers.items()
        ]
        return renumber(" ".join(parts), citations)


def _shouting(text: str) -> bool:
    """A title or byline in capitals ("A LETTER FROM TROTSKY ..."), not a claim."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.5


# "It" and "there" are left out: "It appears that ...", "There were ..." lean on nothing.
DANGLING_WORDS = frozenset(
    ["he", "she", "they", "this", "these", "those", "his", "her", "their", "its", "him", "them"]
)
THIRD_PERSON_RE = re.compile(r"\b(he|she|they)\b", re.I)


def _dangling(text: str, kind: str) -> bool:
    """Whether a sentence leans on the one before: a pronoun or a dash opens it, or, asked
    "who", it speaks of "he" or "she"."""
    head = text.lstrip(" \"“«'(")
    if not head:
        return False
    if head[0] in "—–-" or head[0].islower():
        return True
    first = head.split()[0].lower().strip(",;:")
    return first in DANGLING_WORDS or (kind == "person" and bool(THIRD_PERSON_RE.search(text)))


def _sentence(text: str) -> str:
    # A bracketed number left in the source text ("[1927]") must not pass for a citation.
    text = re.sub(r"\[(\d+)\]", r"(\1)", text.strip())
    return text if text[-1:] in '.?!…"”»)' else text + "."


def _overlap(a: str, b: str) -> float:
    ta, tb = set(tokenize(a)), set(tokenize(b))
    return len(ta & tb) / max(1, min(len(ta), len(tb)))


def idf_function(doc_freq: dict[str, int], n_docs: int) -> Callable[[str], float]:
    """BM25-style IDF; unseen words get the highest weight."""

    def idf(token: str) -> float:
        df = doc_freq.get(token, 0)
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    return idf
