"""Milvus as the store of an index version's chunks, vectors and BM25, for indexes
that outgrow FAISS files on one machine (`vector_store = "milvus"`).

Each version is one Milvus collection, named in its manifest; the version switch
stays the CURRENT pointer (index/storage/layout.py), so a version's collection is complete
before anything can read it. The collection holds each chunk's position (the id
the fusion code ranks by), its ids and text, its dense vector, and BM25 by
Milvus's own full-text function, so lexical search scales with Milvus.

BM25 runs over terms analysed here, as bm25s's are (English stop words, Snowball
stems): Milvus Lite accepts an analyzer's stemmer and stop-word filters but does
not apply them, and the same terms on both stores keep their rankings alike.

`milvus_uri` is a file path (Milvus Lite, in this process: one process at a time
may open a file) or a server's address, `http://host:19530`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.config import IndexConfig
from index.errors import IndexCorruptError, VectorStoreError
from index.records import Chunk
from index.storage.bm25 import analyse
from index.storage.layout import REBUILD_HINT
from index.storage.vectors import VectorIndexConfig

LITE_FILE = "milvus.db"
MILVUS = "milvus"  # vector_store's value, and the vector_index type a manifest records
PREFIX = "articlebot_"
INSERT_BATCH = 1_000
TEXT_LIMIT = 65_535  # bytes in a Milvus VARCHAR
K1, B = 0.9, 0.4  # as bm25s's (index/storage/bm25.py)


@dataclass(frozen=True)
class MilvusConfig:
    """Where Milvus is: a Milvus Lite file or a server's address, and its token."""

    uri: str
    token: str = ""

    @property
    def is_lite(self) -> bool:
        return not re.match(r"^(https?|tcp|grpc)://", self.uri)

    @classmethod
    def of(cls, config: IndexConfig, index_dir: Path) -> MilvusConfig:
        """The configured Milvus; without a uri, a Milvus Lite file in the index directory."""
        token = config.milvus_token.get_secret_value() if config.milvus_token else ""
        return cls(config.milvus_uri or str(Path(index_dir) / LITE_FILE), token)


def connect(config: MilvusConfig) -> object:
    """A client for `config`, or an error that says why Milvus cannot be used."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise VectorStoreError(
            'vector_store = "milvus" needs pymilvus and milvus-lite, which this '
            "install lacks: pip install 'articlebot[milvus]'"
        ) from None

    if config.is_lite:
        Path(config.uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=config.uri, token=config.token)
    except MilvusException as exc:
        where = f"the Milvus Lite file {config.uri}" if config.is_lite else config.uri
        busy = (
            " (Milvus Lite lets one process open a file: stop the bot, or use a Milvus "
            "server, to build beside a running one)"
            if config.is_lite
            else ""
        )
        raise VectorStoreError(f"cannot open {where}: {exc.message}{busy}") from None


def collection_name(version: str) -> str:
    """The Milvus collection of index version `version` (letters, digits and _ only)."""
    return PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", version)


def write_collection(
    client: object,
    name: str,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    config: VectorIndexConfig,
) -> dict:
    """Store a version's chunks, vectors and BM25 terms as collection `name`; what
    the manifest records about it."""
    client.create_collection(name, schema=_schema(client, vectors.shape[1]))
    for start in range(0, len(chunks), INSERT_BATCH):
        batch = chunks[start : start + INSERT_BATCH]
        terms = analyse([c.text for c in batch])
        client.insert(
            name,
            [
                {
                    "position": start + i,
                    "chunk_id": chunk.id,
                    "text": _clip(chunk.text),
                    "terms": _clip(" ".join(words)),
                    "dense": vectors[start + i].tolist(),
                }
                for i, (chunk, words) in enumerate(zip(batch, terms, strict=True))
            ],
        )
    client.flush(name)
    # not waited for here (Milvus Lite lacks the call that waiting makes): loading
    # the collection waits until its indexes serve
    dense = "FLAT" if len(chunks) <= config.flat_max else "HNSW"
    client.create_index(name, _indexes(client, config, dense), sync=False)
    client.load_collection(name)
    about = {"type": MILVUS, "collection": name, "dense_index": dense}
    if dense == "HNSW":
        about |= {"hnsw_m": config.hnsw_m, "ef_search": config.ef_search}
    return about


def _schema(client: object, dimension: int) -> object:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("position", DataType.INT64, is_primary=True)
    schema.add_field("chunk_id", DataType.VARCHAR, max_length=512)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_LIMIT)
    schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_LIMIT, enable_analyzer=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["terms"],
            output_field_names=["sparse"],
        )
    )
    return schema


def _indexes(client: object, config: VectorIndexConfig, dense: str) -> object:
    """The dense index (exact up to `flat_max` vectors, HNSW beyond, as with FAISS)
    and BM25's."""
    params = client.prepare_index_params()
    if dense == "FLAT":
        params.add_index("dense", index_type="FLAT", metric_type="IP")
    else:
        hnsw = {"M": config.hnsw_m, "efConstruction": config.ef_construction}
        params.add_index("dense", index_type="HNSW", metric_type="IP", params=_both_ways(hnsw))
    bm25 = _both_ways({"bm25_k1": K1, "bm25_b": B})
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=bm25)
    return params


def _both_ways(params: dict) -> dict:
    """Index parameters as pymilvus sends them (one key each), which a Milvus server
    reads, and nested under "params" as well, the only form Milvus Lite reads (it
    builds with its defaults otherwise: BM25 k1 1.5 and b 0.75)."""
    return {**params, "params": params}


def _clip(text: str) -> str:
    """`text` cut to what a VARCHAR holds (a chunk is far shorter; never a split character)."""
    return text.encode("utf-8")[:TEXT_LIMIT].decode("utf-8", errors="ignore")


def drop_collection(client: object, name: str) -> None:
    if client.has_collection(name):
        client.drop_collection(name)


class MilvusVectors:
    """A version's dense vectors in Milvus, searched as a FAISS index is: the same
    `search`, `reconstruct_batch` and `ntotal`, so the fusion code serves both."""

    def __init__(self, client: object, name: str, about: dict) -> None:
        self._client = client
        self._name = name
        self._params = {"metric_type": "IP"}
        if about.get("dense_index") == "HNSW":
            self._params["params"] = {"ef": about["ef_search"]}
        self.ntotal = int(client.get_collection_stats(name)["row_count"])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the `k` nearest chunks of each query, -1 past the end."""
        results = self._client.search(
            self._name,
            data=[q.tolist() for q in queries],
            anns_field="dense",
            limit=k,
            output_fields=["position"],
            search_params=self._params,
        )
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, hits in enumerate(results):
            for col, hit in enumerate(hits):
                scores[row, col], ids[row, col] = hit["distance"], hit.id
        return scores, ids

    def reconstruct_batch(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors of chunks at `positions`, in that order."""
        rows = self._client.query(
            self._name, ids=[int(p) for p in positions], output_fields=["dense"]
        )
        found = {row["position"]: row["dense"] for row in rows}
        return np.asarray([found[int(p)] for p in positions], dtype=np.float32)


class MilvusLexical:
    """BM25 over a version's chunks by Milvus's full-text search, searched as the
    bm25s index is (index/storage/bm25.py)."""

    def __init__(self, client: object, name: str, size: int) -> None:
        self._client = client
        self._name = name
        self.size = size

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) of the best `k` chunks with any query term."""
        words = analyse([query])[0]
        k = min(k, self.size)
        if k <= 0 or not words:
            return []
        hits = self._client.search(
            self._name,
            data=[" ".join(words)],
            anns_field="sparse",
            limit=k,
            output_fields=["position"],
            search_params={"metric_type": "BM25"},
        )[0]
        # a server gives BM25 as a positive distance, Milvus Lite as its negative; both
        # multiply it by k1 + 1, which bm25s's scores (Lucene's) do not
        return [(int(h.id), abs(float(h["distance"])) / (K1 + 1)) for h in hits if h["distance"]]


def open_collection(client: object, about: dict, chunk_count: int, where: Path) -> tuple:
    """The (vectors, lexical) of the version at `where`, whose collection `about`
    names; refused when Milvus does not hold all of it."""
    name = about.get("collection", "")
    if not client.has_collection(name):
        raise IndexCorruptError(
            f"the index at {where} is stored in Milvus collection {name!r}, which Milvus "
            f"does not have; {REBUILD_HINT}"
        )
    client.load_collection(name)
    vectors = MilvusVectors(client, name, about)
    if vectors.ntotal != chunk_count:
        raise IndexCorruptError(
            f"Milvus collection {name} holds {vectors.ntotal} chunks, the index at {where} "
            f"has {chunk_count}; {REBUILD_HINT}"
        )
    return vectors, MilvusLexical(client, name, chunk_count)
