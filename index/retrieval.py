"""Finding passages in a loaded index: dense (FAISS), BM25 (bm25s), their fusion,
and a rerank by how much of the question one sentence of each passage covers.

Everything a question's passages are ranked by lives here: the inverse document
frequencies come from the version's term statistics (index/storage/terms.py), each
chunk's sentences, their vectors and their terms from its sentence table
(index/storage/sentences.py), all worked out at build time. Results are typed `Hit`s
that carry each score; what an answer says about them is the bot's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from index.config import Fusion, RetrievalConfig, RetrievalMode
from index.records import Chunk
from index.sentence_split import sentence_spans
from index.storage.article_index import ArticleIndex
from index.storage.terms import Terms, TermStats, term_key

RRF_K = 60
SENTENCE_CACHE = 4096  # chunks whose sentences are kept, most recently asked first


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk and the scores that placed it."""

    chunk: Chunk
    cosine: float  # question-passage similarity: the evidence abstention is calibrated on
    score: float  # what ranked it: the fused score, plus the rerank's share when reranked


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chunk (character span in the chunk), its content words, and
    its vector when the version stores one (see index/storage/sentences.py)."""

    start: int
    end: int
    terms: frozenset[int]  # term keys (index/storage/terms.py)
    vector: np.ndarray | None = None


class Retriever:
    """Finds passages in one loaded index. Built once per loaded version, from the
    term statistics and sentence table the version stores (what versions built
    before them lack is worked out here); the sentences of the chunks asked about
    most recently are kept. Given a `pool`, BM25 runs there while the question is
    embedded and searched for by meaning: at a million passages BM25 took a
    quarter of an answer, which a second core can take."""

    def __init__(
        self,
        index: ArticleIndex,
        config: RetrievalConfig,
        terms: Terms,
        pool: Executor | None = None,
    ) -> None:
        self.index = index
        self.config = config
        self.terms = terms
        self.pool = pool
        self.stats = index.term_stats or TermStats.of((c.text for c in index.chunks), terms)
        # a function of the index, not a bound method: a cache holding the retriever
        # would make a cycle, and a swapped-out version would stay mapped until the
        # garbage collector ran, not go when its last question does
        self.sentences_at = lru_cache(maxsize=SENTENCE_CACHE)(partial(sentences_of, index, terms))

    def weights(self, question: str) -> dict[int, float]:
        """Each of the question's terms (as term keys), weighted by its share of the
        question's IDF."""
        raw = {t: self.stats.idf(t) for t in self.terms(question)}
        total = sum(raw.values()) or 1.0
        return {term_key(t): w / total for t, w in raw.items()}

    def sentences(self, chunk: Chunk) -> list[Sentence]:
        """The sentences of a chunk of this version (one it loaded: it knows its position)."""
        if chunk.position < 0:
            raise ValueError(f"chunk {chunk.id} was not loaded from an index version")
        return self.sentences_at(chunk.position)

    def embed(self, question: str) -> np.ndarray:
        """The question's vector, by the index's own encoder."""
        return self.index.encoder.encode([question])[0]

    def coverage(self, chunk: Chunk, weights: dict[int, float]) -> float:
        """The largest share of the question's (IDF-weighted) words in one sentence."""
        return max((share(s.terms, weights) for s in self.sentences(chunk)), default=0.0)

    def closest_sentence(self, chunk: Chunk, vector: np.ndarray) -> float:
        """The cosine of the chunk's sentence closest to the question (0 without
        sentence vectors)."""
        return max(
            (float(s.vector @ vector) for s in self.sentences(chunk) if s.vector is not None),
            default=0.0,
        )

    def search(
        self,
        question: str,
        k: int,
        mode: RetrievalMode | str | None = None,
        rerank: bool = True,
        vector: np.ndarray | None = None,
    ) -> tuple[list[Hit], np.ndarray]:
        """The best `k` passages for the question, best first, and the question's
        vector they were found by. `mode` defaults to the configured one;
        `rerank=False` gives the plain retriever, as a baseline; `vector` is the
        question's, if the caller has embedded it already."""
        mode = RetrievalMode(mode or self.config.retrieval_mode)
        rerank = rerank and self.config.rerank_weight > 0
        depth = max(k, self.config.rerank_depth) if rerank else k
        lexical = self._lexical(question, depth, mode)
        vector = self.embed(question) if vector is None else vector
        hits = self._retrieve(vector, depth, mode, lexical)
        if rerank:
            weights = self.weights(question)
            share, closeness = self.config.rerank_weight, self.config.rerank_sentence_weight
            hits = [
                Hit(
                    h.chunk,
                    h.cosine,
                    h.score
                    + share * self.coverage(h.chunk, weights)
                    + closeness * self.closest_sentence(h.chunk, vector),
                )
                for h in hits
            ]
            hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k], vector

    def _candidates(self, k: int) -> int:
        """How many chunks each retriever offers for the best `k`."""
        return min(max(k, self.config.retrieval_candidates), len(self.index.chunks))

    def _lexical(self, text: str, k: int, mode: RetrievalMode) -> Future[dict[int, float]]:
        """BM25's candidates for the best `k`, found on the pool if there is one."""
        n = self._candidates(k)
        if mode not in (RetrievalMode.BM25, RetrievalMode.HYBRID) or n <= 0:
            return _done(dict)
        search = partial(self.index.lexical.search, text, n)
        return self.pool.submit(_as_dict, search) if self.pool else _done(partial(_as_dict, search))

    def _retrieve(
        self, query: np.ndarray, k: int, mode: RetrievalMode, bm25: Future[dict[int, float]]
    ) -> list[Hit]:
        """The best `k` chunks by `mode`. `dense` ranks by cosine, `bm25` by BM25,
        `hybrid` fuses both over the top `retrieval_candidates` of each. The cosine
        is always returned, as the evidence abstention is calibrated on."""
        index, config = self.index, self.config
        n = self._candidates(k)
        if n <= 0:
            return []
        dense: dict[int, float] = {}
        if mode in (RetrievalMode.DENSE, RetrievalMode.HYBRID):
            scores, ids = index.vectors.search(np.ascontiguousarray(query.reshape(1, -1)), n)
            dense = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
        lexical = bm25.result()
        if mode == RetrievalMode.DENSE:
            ranking = dense
        elif mode == RetrievalMode.BM25:
            ranking = lexical
        elif config.retrieval_fusion == Fusion.RRF:
            ranking = reciprocal_rank_fusion([ranked(dense), ranked(lexical)])
        else:
            dense.update(cosines(index.vectors, [i for i in lexical if i not in dense], query))
            bm25 = normalise(lexical)
            weight = config.dense_weight
            ranking = {i: weight * dense[i] + (1 - weight) * bm25.get(i, 0.0) for i in dense}
        best = ranked(ranking)[:k]
        exact = {**dense, **cosines(index.vectors, [i for i in best if i not in dense], query)}
        return [Hit(index.chunks[i], exact[i], ranking[i]) for i in best]


def _as_dict(search: Callable[[], list[tuple[int, float]]]) -> dict[int, float]:
    return dict(search())


def _done(work: Callable[[], dict[int, float]]) -> Future[dict[int, float]]:
    """`work`, done here, as a finished future."""
    future: Future[dict[int, float]] = Future()
    future.set_result(work())
    return future


def sentences_of(index: ArticleIndex, terms: Terms, position: int) -> list[Sentence]:
    """The sentences of the chunk at `position`: spans, vectors and terms from the
    version's sentence table; what older versions lack of it is worked out here."""
    text, table = index.chunks[position].text, index.sentences
    if table is None:
        return [
            Sentence(s.start, s.end, terms.keys(text[s.start : s.end]))
            for s in sentence_spans(text)
        ]
    rows = table.rows_of(position)
    spans = table.spans[rows].tolist()
    words = (
        table.terms.of_rows(rows)
        if table.terms is not None
        else [terms.keys(text[start:end]) for _, start, end in spans]
    )
    return [
        Sentence(start, end, keys, vector)
        for (_, start, end), keys, vector in zip(spans, words, table.vectors[rows], strict=True)
    ]


def share(terms: AbstractSet[int], weights: dict[int, float]) -> float:
    """The part of the question's (IDF-weighted) words that `terms` hold."""
    return sum(w for t, w in weights.items() if t in terms)


def ranked(scores: dict[int, float]) -> list[int]:
    """Best first; equal scores in chunk order, whichever store found them."""
    return sorted(scores, key=lambda i: (-scores[i], i))


def normalise(scores: dict[int, float]) -> dict[int, float]:
    """Scale to [0, 1] by the best score, so BM25 can be mixed with cosines."""
    if not scores:
        return {}
    top = max(scores.values()) or 1.0
    return {i: s / top for i, s in scores.items()}


def reciprocal_rank_fusion(rankings: Iterable[list[int]], k: int = RRF_K) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def cosines(vectors: object, ids: list[int], query: np.ndarray) -> dict[int, float]:
    """Exact cosine of the query with stored vectors (from FAISS or Milvus, in one call)."""
    if not ids:
        return {}
    stored = vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))
    return dict(zip(ids, (stored @ query).tolist(), strict=True))
