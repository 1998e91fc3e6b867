"""The scale-corpus generator: deterministic, a valid manifest, perturbed copies that still parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import corpus_files, document_info, load_manifest, load_source, read_source
from assistant.embedding import PACKAGED, token_counts
from assistant.parsing import parse
from assistant.passages import Chunker
from assistant.types import Passage
from benchmarks.scale_corpus import copy_name, generate
from tests.conftest import SMALL_DOCS, small_corpus

DOCS = (*SMALL_DOCS, "trotsky_letter_to_cc_and_ccc_1923-10-08.txt")  # <sup>, [n] and no notes


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_corpus(tmp_path_factory.mktemp("source"), DOCS)


@pytest.fixture(scope="module")
def scaled(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("scaled") / "corpus"
    generate(source, dest, 3, seed=7)
    return dest


def _passages(corpus: Path, name: str) -> list[Passage]:
    chunker = Chunker(lambda texts: token_counts(PACKAGED, texts), 200)
    return chunker.passages(
        load_source(corpus / name, load_manifest(corpus / "manifest.toml")[name])
    )


def test_same_seed_same_bytes_other_seed_other_text(
    source: Path, scaled: Path, tmp_path: Path
) -> None:
    again = generate(source, tmp_path / "again", 3, seed=7)
    assert sorted(p.name for p in scaled.iterdir()) == sorted(
        [f.path.name for f in again] + ["manifest.toml"]
    )
    for f in again:
        assert f.path.read_bytes() == (scaled / f.path.name).read_bytes()
    generate(source, tmp_path / "other", 3, seed=8)
    name = copy_name(DOCS[0], 1)
    assert (tmp_path / "other" / name).read_bytes() != (scaled / name).read_bytes()


def test_manifest_is_valid_and_every_copy_has_its_own_id(scaled: Path) -> None:
    manifest = load_manifest(scaled / "manifest.toml")  # raises on a malformed entry
    files = corpus_files(scaled)
    assert len(files) == 3 * len(DOCS)
    assert {f.name for f in files} == set(manifest)
    ids = [document_info(f, manifest[f.name]).id for f in files]
    assert len(set(ids)) == len(ids)
    original = manifest[DOCS[0]]
    copy = manifest[copy_name(DOCS[0], 2)]
    assert copy["id"] == f"{original['id']}-c002"
    assert (copy["authors"], copy["date"], copy["kind"]) == (
        original["authors"], original["date"], original["kind"],
    )  # fmt: skip


def test_copy_zero_is_the_original_and_other_copies_differ(source: Path, scaled: Path) -> None:
    for name in DOCS:
        original = (source / name).read_bytes()
        assert (scaled / name).read_bytes() == original
        copies = {(scaled / copy_name(name, k)).read_bytes() for k in (1, 2)}
        assert original not in copies and len(copies) == 2


def _shape(text: str, kind: str) -> list[tuple[str, str, str]]:
    """Block kinds, heading titles and note labels, in order."""
    return [
        (b.kind, b.section if b.kind == "heading" else "", b.note_label) for b in parse(text, kind)
    ]


def test_copies_keep_the_structure_the_parser_finds(scaled: Path) -> None:
    manifest = load_manifest(scaled / "manifest.toml")
    for name in DOCS:
        kind = manifest[name]["kind"]
        expected = _shape(read_source(scaled / name), kind)
        assert sum(k == "note" for k, _, _ in expected) or name.startswith("sedova")
        for k in (1, 2):
            assert _shape(read_source(scaled / copy_name(name, k)), kind) == expected, (name, k)


def test_passages_of_a_copy_differ_and_stay_verbatim(scaled: Path) -> None:
    for name in DOCS:
        ours = {p.embed_text for p in _passages(scaled, name)}
        copied = _passages(scaled, copy_name(name, 1))
        text = read_source(scaled / copy_name(name, 1))
        assert all(p.text == text[p.start : p.end] for p in copied)
        same = sum(p.embed_text in ours for p in copied)
        assert same <= 0.1 * len(copied), (name, same, len(copied))


def test_fractional_factor_adds_a_partial_copy(source: Path, tmp_path: Path) -> None:
    files = generate(source, tmp_path / "half", 1.5)
    assert sorted((f.base, f.copy) for f in files) == sorted(
        (name, k) for name in DOCS for k in (0, 1)
    )
    for f in files:
        size, full = len(read_source(f.path)), len(read_source(source / f.base))
        assert size == full if f.copy == 0 else 0.3 * full < size < 0.8 * full
    assert len(generate(source, tmp_path / "less", 0.3)) == len(DOCS)


def test_refuses_a_folder_that_is_not_empty(source: Path, scaled: Path) -> None:
    with pytest.raises(FileExistsError):
        generate(source, scaled, 2)
