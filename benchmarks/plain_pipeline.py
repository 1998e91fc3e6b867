"""The plain LangChain pipeline the benchmarks compare against.

What the usual tutorial does: read the files, cut them with
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, embed the chunks with the
same packaged all-MiniLM-L6-v2 on PyTorch (through :class:`assistant.embedding.Embedder`, with
``embedding_backend='torch'``, the tutorial's sentence-transformers default) and write them with ``Chroma.from_documents`` into a persistent
folder. Its "re-ingest" is running the same script again, which adds every chunk a second time
(``from_documents`` makes random ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.corpus import corpus_files
from assistant.embedding import Embedder
from assistant.settings import Settings

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
COLLECTION = "plain_langchain"
PLAIN_BACKEND: Final = "torch"  # sentence-transformers' default, whatever the assistant uses


def default_embedding() -> Embeddings:
    """The packaged MiniLM on PyTorch, as the tutorial runs it (sentence-transformers' default).

    Pinned to ``torch`` whatever the assistant's own ``embedding_backend`` is: ONNX Runtime is
    one of the assistant's speed-ups, and the comparison must show it, not share it.
    """
    return Embedder(Settings(embedding_backend=PLAIN_BACKEND))


def load_documents(corpus_dir: Path) -> list[Document]:
    """One ``Document`` per corpus file (the same files the assistant ingests)."""
    return [
        Document(page_content=path.read_text(encoding="utf-8"), metadata={"source": str(path)})
        for path in corpus_files(corpus_dir)
    ]


def split_documents(docs: list[Document]) -> list[Document]:
    """The tutorial's chunks: 1000 characters with 200 of overlap."""
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    return splitter.split_documents(docs)


def client(persist_dir: Path) -> chromadb.ClientAPI:
    """A persistent Chroma client on ``persist_dir`` (telemetry off)."""
    persist_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(persist_dir), settings=ChromaSettings(anonymized_telemetry=False)
    )


def build(
    corpus_dir: Path, persist_dir: Path, embedding: Embeddings
) -> tuple[Chroma, list[Document]]:
    """Load, split, embed and store the corpus; returns the store and the chunks written."""
    chunks = split_documents(load_documents(corpus_dir))
    vs = Chroma.from_documents(
        chunks, embedding=embedding, client=client(persist_dir), collection_name=COLLECTION
    )
    return vs, chunks


def open_store(persist_dir: Path, embedding: Embeddings | None = None) -> Chroma:
    """The store :func:`build` wrote, opened for search."""
    return Chroma(
        collection_name=COLLECTION,
        embedding_function=embedding or default_embedding(),
        client=client(persist_dir),
    )


def count(vs: Chroma) -> int:
    """How many chunks the store holds."""
    return len(vs.get(include=[])["ids"])
