"""Sentences of the source text, with offsets, and what each one is.

``sentence_spans`` cuts a stretch of source text into sentences without cutting at initials
("M. A. Trilisser", "Yu. Larin"), abbreviations (p., vol., cf., ibid., т., с., гг.), an
ellipsis inside a sentence ("is ... to triple"), or inside a quotation; every span is exact
source offsets, so whatever is quoted stays ``source[start:end]``.

The classifiers say what a sentence is when it is not a claim: a bibliographic reference
("Ibid., p. 608", "Там же, С. 357"), a title page, byline or catalogue line, a heading, a bare
note label. ``leans_back`` and ``leads_in`` say when a sentence cannot stand alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Abbreviations that are never the last word of a sentence: a number or a name follows.
BOUND_ABBREVIATIONS = frozenset(
    {
        "cf", "pp", "p", "vol", "vols", "no", "nos", "ed", "eds", "op", "viz", "st", "dr", "mr",
        "mrs", "ms", "jr", "sr", "gen", "col", "lt", "prof", "ch", "art", "fig", "trans", "comp",
        "approx", "ca", "tr", "vs", "nr", "esp", "cit", "repr", "rev", "ser", "pt", "sec",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        # Russian: том, страница, год(ы), смотри, товарищ, лист, опись, дело, фонд, издание ...
        "гг", "см", "ст", "им", "тов", "оп", "изд", "вып", "кн", "стр", "напр", "соч", "илл",
        "ред", "сост", "пер", "др", "проф", "акад", "подп", "арх", "тт", "сс", "лл", "дд",
    }
)  # fmt: skip
# Abbreviations that may also end a sentence: they do when a capital letter follows.
FREE_ABBREVIATIONS = frozenset({"etc", "ibid", "al", "e.g", "i.e", "n.d", "т.е", "т.д", "т.п"})
# Two-letter initials of transliterated Russian first names: "Yu. Larin", "Ia. Iakovlev".
TWO_LETTER_INITIALS = frozenset(
    {"yu", "ya", "ye", "yo", "zh", "ch", "sh", "kh", "ts", "iu", "ia", "ie", "io", "dzh"}
)

# What a finished sentence (or a line that closes a quotation or a list item) ends with.
TERMINAL = ".?!…:;\"”»)]*'’"
SENTENCE_END_RE = re.compile(
    r"(?:[.?!]+|…|\.\s?\.\s?\.)(?:[\"”“»’'\)\]]|<sup>\s*\d+\s*</sup>|[⁰¹²³⁴⁵⁶⁷⁸⁹]|\[\d{1,3}\])*"
    r"(?=\s+\S)"
)
WORD_BEFORE_RE = re.compile(r"([^\W\d_][\w.]*|\d+)\.?$")
OPENING_QUOTES = "“«„"
CLOSING_QUOTES = "”»"
# A quotation open over this many characters is a speech or a stray mark: cut it like prose.
MAX_QUOTED_CHARS = 300


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence (or a piece of an over-long one): a source span inside one segment."""

    start: int
    end: int


def sentence_spans(text: str, start: int, end: int) -> list[Unit]:
    """Sentences of ``text[start:end]``, as spans that cover it without gaps worth keeping."""
    units: list[Unit] = []
    pos = start
    for m in SENTENCE_END_RE.finditer(text, start, end):
        if not _ends_sentence(text, pos, m.start(), m.end(), end):
            continue
        units.append(Unit(pos, m.end()))
        pos = m.end()
        while pos < end and text[pos].isspace():
            pos += 1
    if pos < end:
        units.append(Unit(pos, end))
    return [u for u in units if text[u.start : u.end].strip()]


def _ends_sentence(text: str, sent_start: int, mark: int, after: int, end: int) -> bool:
    nxt = _next_word(text, after, end)
    if nxt[:1].islower() or nxt[:1] in "—–":
        # "is ... to triple", "p. 45, cf. the", “Why?” he asked: the sentence goes on
        return False
    single_period = text[mark] == "." and text[mark + 1 : mark + 2] not in (".", " .")
    if single_period and _abbreviation(text, sent_start, mark, nxt):
        return False
    return not _inside_quotation(text, sent_start, after)


def _next_word(text: str, pos: int, end: int) -> str:
    m = re.compile(r"\s*(\S+)").match(text, pos, end)
    return m.group(1).lstrip("\"“«„'‘([*_") if m else ""


def _abbreviation(text: str, sent_start: int, dot: int, nxt: str) -> bool:
    """A period that ends an initial ("V. I. Lenin") or an abbreviation, not a sentence."""
    if text[dot + 1 : dot + 2] in ("”", '"', "»", "’", ")"):
        return False
    m = WORD_BEFORE_RE.search(text, max(sent_start, dot - 12), dot)
    if not m:
        return False
    word = m.group(1).rstrip(".")
    low = word.lower()
    if len(word) == 1 and word.isalpha():
        # an initial, or a one-letter Russian abbreviation (т., с., г., л., М.): never the end
        # of a sentence unless a lower-case word came before it ("... plan a." is rare)
        return True
    if low in BOUND_ABBREVIATIONS or (low in TWO_LETTER_INITIALS and word[0].isupper()):
        return True
    if low in FREE_ABBREVIATIONS or ("." in low and len(low) <= 10):
        # "etc." and dotted acronyms ("U.S.S.R.") end a sentence only before a capital
        return not nxt[:1].isupper()
    return False


def _inside_quotation(text: str, sent_start: int, after: int) -> bool:
    """Whether a quotation opened in this sentence is still open after its punctuation."""
    if after - sent_start > MAX_QUOTED_CHARS:
        return False
    stack: list[str] = []
    for ch in text[sent_start:after]:
        if ch == "“" and stack[-1:] == ["„"]:  # the Russian/German „…“ pair
            stack.pop()
        elif ch in OPENING_QUOTES:
            stack.append(ch)
        elif ch in CLOSING_QUOTES and stack:
            stack.pop()
    return bool(stack)


# -- what a sentence is ----------------------------------------------------------------------

# page, volume, issue and edition marks, collected works, a place and year of publication
_REF_TOKENS = re.compile(
    r"(?:\b(?:pp?|vol|vols|volume|ed|eds|op\.\s?cit|ibid|cf|С|Т|Тт|стр|изд|вып|л|лл|оп|ф|д)"
    r"\.?\s?\d)|\b(?:ibid|там же|цит\. по|op\. cit)\b|№|\b(?:ПСС|PSS|CW|MECW)\b|"
    r"(?:\b(?:М|Л|СПб|М\.-Л|NY|Moscow|London|New York)\.?,\s?(?:18|19|20)\d\d)|"
    r"\*[^*]{2,40}\*,\s(?:\d{1,2}\s\w+\s)?(?:18|19|20)\d\d",
    re.I,
)
# a periodical and a date, nothing else: "*Правда*, 1923, 14 декабря [*Pravda*, 14 December 1923]."
_DATED_TITLE_RE = re.compile(
    r"(?:\*[^*]+\*,?|[А-ЯЁA-Z]\w+(?: [А-ЯЁA-Z]\w+){0,2},) (?:(?:18|19|20)\d\d,? ?|\d{1,2} \w+,? ?){1,3}(?:\[.*)?\.?"
)
_REF_PHRASES = re.compile(
    r"\b(?:archive|архив|РГАСПИ|РЦХИДНИ|ЦГАОР|ГАРФ|Izvestiia|Известия ЦК|Стенографический отчет|"
    r"stenographic report|Collected Works|Сочинения|Протоколы|Бюллетень оппозиции|Bulletin of "
    r"the Opposition)\b",
    re.I,
)
_WORD = re.compile(r"[^\W\d_]{2,}")
# what titles of works look like inside a reference: quoted, in italics, in brackets
_TITLES_RE = re.compile(r"“[^”]*”|«[^»]*»|„[^“”]*[“”]|\"[^\"]*\"|\*[^*]+\*|\[[^\]]*\]|\([^)]*\)")
_FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "that",
        "which",
        "who",
        "was",
        "were",
        "is",
        "are",
        "be",
        "been",
        "had",
        "has",
        "have",
        "not",
        "but",
        "and",
        "or",
        "as",
        "it",
        "its",
        "his",
        "her",
        "their",
        "he",
        "she",
        "they",
        "this",
        "these",
        "those",
        "there",
        "than",
        "then",
        "when",
        "after",
        "before",
        "would",
        "could",
        "should",
        "will",
        "into",
        "about",
        "against",
        "also",
        "only",
        "all",
        "any",
        "some",
        "и",
        "в",
        "во",
        "не",
        "на",
        "что",
        "с",
        "со",
        "как",
        "по",
        "но",
        "из",
        "у",
        "за",
        "от",
        "к",
        "о",
        "об",
        "для",
        "был",
        "была",
        "были",
        "было",
        "это",
        "этот",
        "он",
        "она",
        "они",
        "его",
        "её",
        "их",
        "же",
        "ли",
        "бы",
        "то",
        "так",
        "уже",
        "если",
        "когда",
        "который",
        "которые",
        "чтобы",
        "при",
        "до",
        "после",
    ]
)
_FURNITURE_RE = re.compile(
    r"\b(?:all rights reserved|library of congress|isbn|printed in|published by|"
    r"cataloging-in-publication|p\. ?o\. box|translated by|copyright|©|mehring books|"
    r"oak park|subjects?:|classification:|lccn|identifiers?:)",
    re.I,
)
_ASIDE_RE = re.compile(r"[(\[][^()\[\]]*[)\]]\.?")
_NOTE_LABEL_RE = re.compile(r"^\W*(?:\[?\d{1,3}[.\]]?|<sup>\s*\d+\s*</sup>|[⁰¹²³⁴⁵⁶⁷⁸⁹]+)\W*$")
_DANGLING = frozenset(
    ["he", "she", "they", "this", "these", "those", "his", "her", "their", "its", "him", "them",
     "он", "она", "они", "это", "этот", "эта", "эти", "его", "её", "их"]
)  # fmt: skip
_LIST_ITEM_RE = re.compile(r"[-*•]\s+(?:\[?\d{1,3}\.|\d)")
_THIRD_PERSON_RE = re.compile(r"\b(he|she|they|him|her|his)\b", re.I)


def is_reference(text: str) -> bool:
    """A bibliographic reference rather than a claim: "Ibid., p. 608", "Ленин, ПСС, Т. 45,
    С. 343 [Lenin, CW, Volume 36, ...]", "XIII съезд РКП(б). Стенографический отчет. М., 1963,
    С. 779", an archive signature.

    It has a page, volume or issue mark, a collected works, a place and year of publication or
    an archive; and once titles (quoted, in italics, in brackets) are set aside, what is left is
    not prose: a claim has function words ("the", "was", "и", "не"), a reference has names,
    numbers and abbreviations.
    """
    t = text.strip()
    if not (_REF_TOKENS.search(t) or _REF_PHRASES.search(t) or _DATED_TITLE_RE.fullmatch(t)):
        return t.lower().rstrip(".").strip("*[] ") in ("ibid", "там же")
    return not _prose(t, needed=3)


def is_prose(text: str) -> bool:
    """Whether a sentence reads as prose (function words between its words), titles of works
    set aside: "The French proverb is: ..." does, "Правда, 1923, 6 декабря" does not."""
    t = text.strip()
    return bool(t) and _prose(t, needed=2) and len(_WORD.findall(t)) >= 4


def _prose(t: str, needed: int) -> bool:
    core = _TITLES_RE.sub(" ", t)
    if t[0] in '“«„"' and len(core.strip(" .,;:")) < 0.3 * len(t):
        core = t  # a quotation, not the title of a work
    words = _WORD.findall(core)
    function = sum(w.lower() in _FUNCTION_WORDS for w in words)
    return function >= needed and function * 5 >= len(words)


def is_furniture(text: str) -> bool:
    """A title-page, byline, copyright or catalogue line, or a bare note label: not a claim."""
    t = text.strip()
    if not t or _NOTE_LABEL_RE.match(t):
        return True
    if _ASIDE_RE.fullmatch(t) and len(t.split()) <= 15:
        return True  # "(From Lenin's note of December 30, 1922)": an attribution, a caption
    if _FURNITURE_RE.search(t) and len(_WORD.findall(t)) <= 30:
        return True
    letters = [c for c in t if c.isalpha()]
    # in capitals: "A LETTER FROM TROTSKY TO KRUPSKAYA"
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.5


def is_heading_like(text: str) -> bool:
    """A line with no sentence punctuation and few words: a heading or caption."""
    t = text.strip().strip("*_ ")
    return len(t.split()) <= 12 and t[-1:] not in ".?!…:;\"”»)'’" and not re.search(r"\d{4}", t)


def leans_back(text: str, asks_person: bool = False) -> bool:
    """Whether a sentence leans on the one before: it opens with a pronoun, a dash, a lower-case
    word or "Ibid.", or, asked "who", it speaks of "he" or "she"."""
    head = text.lstrip(" \"“«„'(*_")
    if not head or _LIST_ITEM_RE.match(head):
        return False  # "- 14. In her letter ...": a note's or a list's bullet, not a dash
    if head[0] in "—–-…" or head[0].islower():
        return True
    first = head.split()[0].lower().strip(",;:.")
    return first in _DANGLING or (asks_person and bool(_THIRD_PERSON_RE.search(text)))


def leads_in(text: str) -> bool:
    """Whether a sentence introduces what follows ("Trotsky wrote:", "as follows —")."""
    t = text.rstrip(" *_\u00a0")
    return t.endswith((":", "—", "–", ":”", ':"')) or t.lower().endswith(("as follows", "said"))
