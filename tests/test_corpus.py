"""The corpus folder: byte-for-byte copies, the manifest, decoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import corpus_files, document_info, load_manifest, read_source
from assistant.errors import IngestError, ManifestError
from assistant.settings import PROJECT_ROOT

SHARED = PROJECT_ROOT.parent / "shared" / "corpus"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus is not beside the project")
def test_corpus_files_are_byte_for_byte_copies_of_the_originals() -> None:
    originals = {p.read_bytes() for p in SHARED.glob("*.txt")}
    ours = {p.read_bytes() for p in corpus_files(PROJECT_ROOT / "corpus")}
    assert ours == originals


def test_manifest_describes_every_document() -> None:
    manifest = load_manifest(PROJECT_ROOT / "corpus" / "manifest.toml")
    names = {p.name for p in corpus_files(PROJECT_ROOT / "corpus")}
    assert set(manifest) == names
    kinds = {e["kind"] for e in manifest.values()}
    assert kinds == {"book", "letter", "article"}


def test_manifest_error_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.toml"
    bad.write_text('[[document]]\nfile = "a.txt"\nid = "a"\ntitle = "A"\nauthors = ["X"]\n'
                   'date = "1927"\nlanguages = ["en"]\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ManifestError, match=r"a\.txt.*'kind'"):
        load_manifest(bad)
    bad.write_text("[[document]\nfile = ", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"manifest\.toml"):
        load_manifest(bad)


def test_file_without_entry_gets_metadata_from_its_name(tmp_path: Path) -> None:
    path = tmp_path / "my_new_letter-1925.md"
    path.write_text("Dear comrades,\n\nA letter.\n", encoding="utf-8")
    info = document_info(path, None)
    assert info.id == "my_new_letter-1925"
    assert info.title == "My new letter 1925"
    assert info.kind == "document"


def test_decoding_bom_cp1252_and_binary(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffHello".encode())
    assert read_source(bom) == "\ufeffHello"  # kept, so offsets match the file
    cp = tmp_path / "cp.txt"
    cp.write_bytes("“Quoted” – café".encode("cp1252"))
    assert read_source(cp) == "“Quoted” – café"
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(IngestError, match=r"bin\.txt"):
        read_source(binary)
