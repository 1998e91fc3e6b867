"""A larger corpus made from ours: N copies of every document, each copy perturbed so that its
passages differ from every other copy's, written with a valid manifest. Seeded and deterministic.

Copy 0 is the original file, unchanged (so the question set still finds its answers); copy k
(k >= 1) of ``name.txt`` is ``name--c00k.txt`` with the document id ``<id>-c00k``. In a copy,
every paragraph and note the parser finds (headings are left alone, so the structure stays) is
perturbed in place:

- its sentences after the first are shuffled when it has three or more (the first keeps a note's
  or a paragraph's number in front; a paragraph cut by a page break keeps its unfinished last
  sentence at the end; paragraphs laid out line by line keep their order);
- about ``SWAP_RATE`` of its lower-case words of four letters or more, and at least one, are
  replaced by other words of the same document and script;
- its numbers of two to four digits inside the text (not note labels, list numbers or markers)
  are replaced by others of as many digits.

A fractional factor adds a partial copy: the first share of each document, cut at a paragraph
break. So ``--factor 0.3`` is 30% of our corpus and ``--factor 2.5`` two copies and a half.

    python -m benchmarks.scale_corpus --factor 10 /tmp/corpus-10x
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.corpus import corpus_files, load_manifest, read_source
from assistant.parsing import parse
from assistant.sentences import sentence_spans
from assistant.settings import Settings

SWAP_RATE = 0.1
WORD_RE = re.compile(r"(?<![#/<\w])[^\W\d_]{4,}(?!\w)")
NUMBER_RE = re.compile(r"(?<=[ (\u00a0])\d{2,4}(?=[\s.,;:!?)]|$)")
GAP_RE = re.compile(r"\n[ \t\r\f\v\u00a0]*\n\s*")
TERMINAL = ".?!…\"”»)]'’"


@dataclass(frozen=True)
class ScaledFile:
    """One file of the generated corpus and the file of ours it was made from."""

    path: Path
    base: str  # file name in the source corpus
    copy: int  # 0: the original text


def copy_name(name: str, copy: int) -> str:
    """``name`` itself for copy 0, else ``<stem>--c<copy:03d><suffix>``."""
    if copy == 0:
        return name
    path = Path(name)
    return f"{path.stem}--c{copy:03d}{path.suffix}"


def _vocabulary(text: str) -> dict[bool, list[str]]:
    """The document's lower-case words of four letters or more, by script (Cyrillic or not)."""
    words = {w for w in WORD_RE.findall(text) if w.islower()}
    by_script: dict[bool, list[str]] = {True: [], False: []}
    for w in sorted(words):
        by_script[_cyrillic(w)].append(w)
    return by_script


def _cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def _swap_words(par: str, vocab: dict[bool, list[str]], rng: random.Random) -> str:
    found = [m for m in WORD_RE.finditer(par) if m.group(0).islower() and vocab[_cyrillic(m[0])]]
    if not found:
        return par
    chosen = {i for i in range(len(found)) if rng.random() < SWAP_RATE}
    chosen = chosen or {rng.randrange(len(found))}
    out, pos = [], 0
    for i in sorted(chosen):
        m = found[i]
        out += [par[pos : m.start()], rng.choice(vocab[_cyrillic(m[0])])]
        pos = m.end()
    return "".join([*out, par[pos:]])


def _change_numbers(par: str, rng: random.Random) -> str:
    def change(m: re.Match[str]) -> str:
        n = len(m.group(0))
        if m.string[max(0, m.start() - 5) : m.start()].endswith("<sup>"):
            return m.group(0)
        return str(rng.randrange(10 ** (n - 1), 10**n))

    return NUMBER_RE.sub(change, par)


def _shuffle_sentences(par: str, rng: random.Random) -> str:
    if "\n" in par:  # laid out line by line: a list, a table of contents, verse
        return par
    sentences = [par[u.start : u.end].strip() for u in sentence_spans(par, 0, len(par))]
    if len(sentences) < 3:
        return par
    head, middle = sentences[:1], sentences[1:]
    tail: list[str] = []
    if par.rstrip()[-1] not in TERMINAL:  # continued after a page break: keep its end last
        middle, tail = middle[:-1], middle[-1:]
    rng.shuffle(middle)
    return " ".join(head + middle + tail)


def perturb(text: str, kind: str, rng: random.Random) -> str:
    """``text`` with every paragraph and note perturbed; headings and the gaps between kept."""
    vocab = _vocabulary(text)
    spans = sorted(seg for b in parse(text, kind) if b.kind != "heading" for seg in b.segments)
    out: list[str] = []
    pos = 0
    for start, end in spans:
        par = _shuffle_sentences(text[start:end], rng)
        out += [text[pos:start], _change_numbers(_swap_words(par, vocab, rng), rng)]
        pos = end
    return "".join([*out, text[pos:]])


def prefix(text: str, share: float) -> str:
    """The first ``share`` of ``text``, cut at the next paragraph break."""
    if share >= 1:
        return text
    gap = GAP_RE.search(text, int(len(text) * share))
    return text[: gap.start()] + "\n" if gap else text


def _entry(entry: dict[str, Any] | None, name: str, copy: int) -> dict[str, Any] | None:
    if entry is None or copy == 0:
        return entry
    return {
        **entry,
        "file": name,
        "id": f"{entry['id']}-c{copy:03d}",
        "title": f"{entry['title']} [copy {copy}]",
    }


def toml_document(entry: dict[str, Any]) -> str:
    """A ``[[document]]`` table (JSON strings and lists are valid TOML values)."""
    lines = ["[[document]]"]
    lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def generate(source: Path, dest: Path, factor: float, seed: int = 0) -> list[ScaledFile]:
    """Write a ``factor``-times corpus made from ``source`` into ``dest`` (which must be empty or
    absent), with its ``manifest.toml``; returns the files written, copy by copy."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, not {factor}")
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; give an empty or new folder.")
    files = corpus_files(source)
    manifest = load_manifest(source / Settings().manifest_name)
    whole, share = int(factor), factor - int(factor)
    copies = [(k, 1.0) for k in range(whole)] + ([(whole, share)] if share > 1e-9 else [])
    written: list[ScaledFile] = []
    tables: list[str] = []
    for k, part in copies:
        for f in files:
            text = prefix(read_source(f), part)
            entry = manifest.get(f.name)
            if k:
                kind = entry["kind"] if entry else "document"
                text = perturb(text, kind, random.Random(f"{seed}:{k}:{f.name}"))
            name = copy_name(f.name, k)
            (dest / name).write_text(text, encoding="utf-8")
            written.append(ScaledFile(dest / name, f.name, k))
            if (copied := _entry(entry, name, k)) is not None:
                tables.append(toml_document(copied))
    (dest / "manifest.toml").write_text(
        f"# {factor}x corpus made from {source} by benchmarks/scale_corpus.py (seed {seed}).\n\n"
        + "\n".join(tables),
        encoding="utf-8",
    )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="new or empty folder to write")
    parser.add_argument("--factor", type=float, default=10.0, help="copies of the corpus (10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--corpus", type=Path, help="source corpus folder (setting corpus_dir)")
    args = parser.parse_args(argv)
    source = args.corpus or Settings().corpus_dir
    written = generate(source, args.dest, args.factor, args.seed)
    n_words = sum(len(s.path.read_text(encoding="utf-8").split()) for s in written)
    print(f"{len(written)} files, {n_words:,} words in {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
