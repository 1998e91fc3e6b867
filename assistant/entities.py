"""Which thing a sentence speaks of, when two things share a name.

Two shapes matter in these documents:

- a name with a qualifier: "the Declaration of the Forty-Six", "of the Eighty-Three", "of the
  Fifteen"; "the Platform of the Four". A question about the 46 is not answered by a sentence
  about the 83.
- a surname shared by several people, told apart by initials: "V. Kosior" and
  "S. Kosior". A question that names one keeps to that one; a question that names neither gets
  the best-supported one, and is told that there is more than one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.lexical import numbers_as_digits

PHRASE_RE = re.compile(r"\b([^\W\d_]{4,})\s+of\s+the\s+[“\"«‘']?([\w-]+)", re.I)
NAME_RE = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-ZА-Я][a-zа-яё]{3,})\b")


def phrases(text: str) -> dict[str, set[str]]:
    """Heads and qualifiers of "X of the Y" phrases: {"declaration": {"46"}}, number words as
    digits. A head counts when it is capitalised or its qualifier is a number."""
    out: dict[str, set[str]] = {}
    for m in PHRASE_RE.finditer(numbers_as_digits(text)):
        head, qual = m.group(1), m.group(2).lower()
        if head[0].isupper() or qual.isdigit():
            out.setdefault(head.lower(), set()).add(qual)
    return out


def phrase_agreement(question: dict[str, set[str]], sentence: str) -> int:
    """+1 when the sentence names a phrase of the question with its qualifier, -1 when it names
    the same head with other qualifiers only ("Declaration of the 83" asked about the 46)."""
    if not question:
        return 0
    said = phrases(sentence)
    result = 0
    for head, quals in question.items():
        if head not in said:
            continue
        if said[head] & quals:
            return 1
        result = -1
    return result


def qualifier_of(surname: str, text: str) -> list[str]:
    """The initials a surname carries in ``text``: "V." for "V. Kosior", "S. V." for
    "S. V. Kosior"; one entry per mention that has any. (Only initials: a capitalised word
    before a name is as often "Comrade", "Tenth" or "Party" as a first name.)"""
    name = re.escape(surname)
    before = re.compile(rf"((?:\b[A-ZА-Я][a-zа-я]?\.\s?){{1,3}})(?={name}\b)")
    # a biographical entry: "KOSIOR, Vladislav [Vladimir] Vikentievich"
    entry = re.compile(rf"\b{re.escape(surname.upper())},\s+([A-ZА-Я])[a-zа-яё]+")
    found = [(m.start(), m.group(1).strip()) for m in before.finditer(text)]
    found += [(m.start(), m.group(1) + ".") for m in entry.finditer(text)]
    return [q for _, q in sorted(found)]


@dataclass(frozen=True)
class Namesake:
    """A surname of the question that the candidates give to more than one person."""

    surname: str
    chosen: str  # the initials kept, e.g. "V."
    others: tuple[str, ...]  # the initials left out

    def keeps(self, text: str) -> bool:
        """Whether a sentence may stay: it names no other bearer of the surname."""
        return not any(
            q[:2] in {o[:2] for o in self.others} for q in qualifier_of(self.surname, text)
        )

    def note(self) -> str:
        names = ", ".join(f"{q} {self.surname}" for q in (self.chosen, *self.others))
        return (
            f"The documents speak of more than one {self.surname} ({names}); this answer keeps "
            f"to {self.chosen} {self.surname}. Ask with the full name for another."
        )


def namesakes(question: str, ranked_texts: Iterable[str]) -> list[Namesake]:
    """Surnames the question names bare (no initials) that the candidate sentences, best first,
    give with different initials; each keeps the initials of its best-ranked mention."""
    texts = list(ranked_texts)
    out = []
    for surname in dict.fromkeys(NAME_RE.findall(question)):
        if qualifier_of(surname, question):
            continue  # the question says which one
        seen: list[str] = []
        for t in texts:
            for q in qualifier_of(surname, t):
                if q[:2] not in {s[:2] for s in seen}:
                    seen.append(q)
        if len(seen) > 1:
            out.append(Namesake(surname, seen[0], tuple(seen[1:])))
    return out


def named_initials(question: str) -> dict[str, str]:
    """Surnames the question gives with initials or a first name: {"Kosior": "V."}."""
    out = {}
    for surname in NAME_RE.findall(question):
        quals = qualifier_of(surname, question)
        if quals:
            out[surname] = quals[0]
    return out


def conflicts_with_initials(wanted: dict[str, str], text: str) -> bool:
    """Whether a sentence names a surname of the question with other initials."""
    for surname, initials in wanted.items():
        quals = qualifier_of(surname, text)
        if quals and all(q[:2] != initials[:2] for q in quals):
            return True
    return False
