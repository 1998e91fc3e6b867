"""Every tuned number of the question-answering path, one frozen dataclass per stage.

Each field says what it does and where its value came from: "dev" is
``eval/questions/dev.jsonl`` (the commit that set or retuned it is named where the history
says so), "training regions" the train split of ``eval/training``, and "set by hand" a value
chosen by judgement and left as it was because the dev figures did not ask for another.

The stages, in the data's order:

- :class:`LexicalTuning`: the BM25 index (``assistant.lexical``).
- :class:`RetrievalTuning`: dense and BM25 scores fused (``assistant.retrieval``).
- :class:`LinkTuning`: the notes a hit cites joining the answer (``assistant.chain``,
  ``assistant.llm``).
- :class:`Weights`: how the default answerer scores a candidate sentence
  (``assistant.answering``).
- :class:`Thresholds`: when the default answerer answers, and how much (``assistant.answering``,
  windows in ``assistant.evidence``). The embedding model's manifest overrides its float fields
  (its ``"answerer"`` entry: ``min_semantic``, ``keep_ratio`` for the fine-tuned model); the
  settings' ``max_answer_words`` sets ``max_words``.

Patterns (regular expressions) are not knobs: they stay named in the module that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.settings import Settings

# The answer's word limit is the setting's; its default is the one number, kept there.
DEFAULT_MAX_WORDS: int = Settings.model_fields["max_answer_words"].default


@dataclass(frozen=True)
class LexicalTuning:
    """BM25's parameters (a change needs ``assistant.lexical.LEXICAL_VERSION`` bumped)."""

    k1: float = 1.2  # term-frequency saturation; BM25's usual value, not tuned
    b: float = 0.75  # length normalisation; BM25's usual value, not tuned


@dataclass(frozen=True)
class RetrievalTuning:
    """How dense and BM25 scores combine into one ranking (commit 5bb71b4; checked on dev)."""

    dense: float = 1.0  # weight of the cosine score; the scale the others are set against
    lexical: float = 0.6  # weight of BM25 over the query's best BM25 score; dev
    link: float = 0.5  # share of a passage's score a note it cites (or citing it) inherits; dev
    candidates: int = 60  # passages each of dense and BM25 bring to the fusion; set by hand
    # passages shorter than this many words are weighed down ("Ibid., p. 608"); dev (dc372af)
    short_words: int = 25
    brevity_power: float = 0.5  # the weight is (words / short_words) ** this; set by hand


@dataclass(frozen=True)
class LinkTuning:
    """The notes the retrieved passages cite, taken along into the answer (commit dc372af)."""

    # a linked note's score: this share of the hit that cites it (ranks it just under); by hand
    linked_score: float = 0.9
    linked_candidates: int = 4  # linked notes that join the default answerer's candidates; by hand
    linked_excerpts: int = 2  # linked notes shown to the language model after the hits; by hand
    history_chars: int = 600  # of each earlier chat message, when condensing a follow-up; by hand


@dataclass(frozen=True)
class Weights:
    """How a candidate sentence is scored: the sum of these times each signal (commit 3d4e6e6,
    checked on dev; the judge's with 1ca8a27)."""

    meaning: float = 1.0  # cosine of the sentence's vector with the question's; the scale
    words: float = 1.0  # IDF-weighted share of the question's words in the sentence; dev
    rank: float = 0.2  # times 1 / (1 + the passage's rank); dev
    kind: float = 0.1  # the sentence holds what the question asks for (a date for "when"); dev
    phrase_match: float = 0.15  # it names the question's "X of the Y" with the same Y; dev
    phrase_conflict: float = 0.5  # taken off when it names the same X with another Y; dev
    source: float = 0.5  # a reference, when the question asks where something was published; dev
    judge: float = 1.0  # times the answer judge's probability that the sentence answers; by hand


@dataclass(frozen=True)
class Thresholds:
    """When to answer, and how much. Float fields can be set per model by its manifest."""

    # best sentence's cosine below this: the documents do not answer; dev for the base model
    # (retuned in b9b2bcf and after); the fine-tuned model's manifest sets 0.2 (training regions)
    min_semantic: float = 0.5
    min_coverage: float = 0.3  # share (IDF) of the question's words in the top passages; dev
    coverage_passages: int = 3  # how many top passages that share is taken over; set by hand
    # a question naming something the documents never mention is not answered unless a
    # sentence matches it this closely anyway (a misspelt name, say); dev (b9b2bcf)
    unknown_name_support: float = 0.7
    max_words: int = DEFAULT_MAX_WORDS  # of the whole answer: settings.max_answer_words, by hand
    max_windows: int = 6  # evidence windows (so [n] markers) in one answer; dev (3d4e6e6)
    window_words: int = 80  # a window stops growing past this many words; dev (3d4e6e6)
    # a window scoring under this share of the best one is left out; dev (d9c4552); the
    # fine-tuned model's manifest sets 0.4 (dev)
    keep_ratio: float = 0.6
    min_words: int = 4  # shorter sentences are fragments, not claims; set by hand
    # two windows sharing more than this share of the shorter one's words say the same: one
    # is left out; set by hand (3d4e6e6)
    repeat_overlap: float = 0.8
    namesake_pool: int = 20  # best candidates searched for other bearers of a surname; by hand
    judge_pool: int = 8  # best candidates (by the scores above) the answer judge reads; by hand
    # the judge's best probability below this: the documents do not answer; the probability's
    # midpoint, set by hand (1ca8a27)
    min_judge: float = 0.5
    see_also: int = 3  # closest passages listed with a cannot-answer reply; set by hand
