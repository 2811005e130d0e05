"""The index layer's settings, each declared once, with its default and bounds.

`bot.settings.Settings` is made of these sections (and the bot's own), so a
setting keeps its flat name everywhere (`dense_weight`, `ARTICLEBOT_DENSE_WEIGHT`,
`dense_weight = 0.7` in config/articlebot.toml) and reaches the code that uses
it as one small value per concern: a `FetchConfig` for fetching, a
`RetrievalConfig` for finding passages, and so on. config/articlebot.toml says
what each one means.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr


class FetchConfig(BaseModel):
    """Fetching pages and feeds (index/sources/fetch.py)."""

    fetch_timeout_seconds: float = Field(10.0, gt=0)
    fetch_deadline_seconds: float = Field(60.0, gt=0)
    fetch_source_deadline_seconds: float = Field(600.0, gt=0)
    fetch_max_bytes: int = Field(5_000_000, gt=0)
    fetch_allow_private_networks: bool = False
    fetch_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    fetch_feed_entry_hosts: list[str] = Field(default_factory=list)
    feed_max_entries: int = Field(100, ge=1)


class EmbeddingConfig(BaseModel):
    """The embedding model and how it runs (index/embedding/embedder.py)."""

    model_path: Path | None = None
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    embed_batch_size: int = Field(32, ge=1)
    # "auto": embed with the ONNX export stored with the index (no torch at run
    # time), exported at build; "torch": always sentence-transformers.
    embedding_backend: Literal["auto", "torch"] = "auto"
    onnx_threads: int = Field(0, ge=0)


class IndexConfig(BaseModel):
    """How an index is built and kept: chunking, the vector index, versions kept."""

    chunk_target_tokens: int = Field(200, ge=16, le=254)
    chunk_overlap_tokens: int = Field(48, ge=0)
    keep_versions: int = Field(3, ge=1)
    # Exact (flat) up to faiss_flat_max vectors, HNSW beyond (its recall@5 against
    # exact search is measured at build time and written to the manifest). 25,000:
    # an exact search then costs what HNSW's does at a million (bench/archive/flat_search.py).
    faiss_flat_max: int = Field(25_000, ge=1)
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(200, ge=8)
    hnsw_ef_search: int = Field(512, ge=8)
    # HNSW's copy of the vectors: 8-bit scalar codes (a quarter of the memory) or float32.
    hnsw_vectors: Literal["sq8", "float32"] = "sq8"
    # Megabytes read into the page cache when a version opens, of each of its files
    # in turn (index/storage/article_index.py, OPEN_READS and READ_AHEAD; 0: none).
    preload_mb: int = Field(5120, ge=0)
    # Where a build stores chunks, vectors and BM25: "faiss" (files in the version) or
    # "milvus" (a Milvus collection per version, at milvus_uri: a file path runs
    # Milvus Lite in this process, by default milvus.db in the index directory;
    # http://host:19530 is a Milvus server or cluster, with milvus_token if it asks).
    vector_store: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str | None = None
    milvus_token: SecretStr | None = None


class RetrievalMode(StrEnum):
    """Which retriever finds passages."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


class Fusion(StrEnum):
    """How hybrid retrieval mixes BM25 and the embeddings."""

    WEIGHTED = "weighted"  # dense_weight x cosine + the rest x BM25 scaled to [0, 1]
    RRF = "rrf"  # reciprocal rank fusion


class RetrievalConfig(BaseModel):
    """How passages are found (index/retrieval.py)."""

    retrieval_mode: RetrievalMode = RetrievalMode.HYBRID
    retrieval_fusion: Fusion = Fusion.WEIGHTED
    dense_weight: float = Field(0.7, ge=0.0, le=1.0)
    retrieval_candidates: int = Field(30, ge=1, le=1000)
    # Rerank the best `rerank_depth` passages by fused score + rerank_weight x the
    # share of the question's words in their best sentence (0 turns it off).
    rerank_weight: float = Field(1.0, ge=0.0, le=5.0)
    rerank_depth: int = Field(20, ge=1, le=200)
    # ... + rerank_sentence_weight x the cosine of its sentence closest to the question
    # (versions with a sentence table): catches paraphrases a chunk's one vector blurs.
    rerank_sentence_weight: float = Field(1.0, ge=0.0, le=5.0)
    # Threads one FAISS search runs on. Questions already run side by side
    # (answer_threads); more threads per search only contend for the cores.
    search_threads: int = Field(1, ge=1, le=64)
