"""BM25 over the chunks (bm25s), stored beside the FAISS vectors: names, dates and
numbers are where embeddings alone miss."""

from __future__ import annotations

import logging
import threading
from functools import cache
from pathlib import Path

import numpy as np

from index.storage.files import NPY_HEADERS

K1, B = 0.9, 0.4  # the Anserini defaults, good for passages


@cache
def _bm25s():
    """bm25s, with the debug logging it switches on at import turned back off (once:
    setting a level clears every logger's cache, a cost on each question)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def analyse(texts: list[str]) -> list[list[str]]:
    """Each text's BM25 terms, as the bm25s index makes them: English stop words
    out, Snowball stems (for stores that index terms made here: index/storage/milvus.py)."""
    import Stemmer

    return LexicalIndex._tokenize(texts, Stemmer.Stemmer("english"), return_ids=False)


class LexicalIndex:
    """A BM25 retriever over chunk texts, with the same stemming for queries."""

    def __init__(self, retriever: object, size: int) -> None:
        import Stemmer

        self._retriever = retriever
        self._postings = Postings(retriever.scores, max(size // 32, 4096))
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # the stemmer is not thread-safe
        self.size = size

    @staticmethod
    def _tokenize(texts: list[str], stemmer: object, **options: object) -> object:
        return _bm25s().tokenize(
            texts, stopwords="en", stemmer=stemmer, show_progress=False, **options
        )

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import Stemmer

        retriever = _bm25s().BM25(k1=K1, b=B)
        retriever.index(cls._tokenize(texts, Stemmer.Stemmer("english")), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        # mapped, not read: the score matrix stays on disk until questions touch it
        with NPY_HEADERS:  # its arrays are .npy files
            retriever = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False)
        return cls(retriever, size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) of the best `k` chunks with any query term."""
        k = min(k, self.size)
        with self._lock:
            tokens = self._tokenize([query], self._stemmer, return_ids=False)
        terms = self._retriever.get_tokens_ids(tokens[0]) if tokens[0] else []
        if k <= 0 or not terms:
            return []
        found = None
        if self._retriever.nonoccurrence_array is None:  # BM25 variants that score absences
            found = self._postings.best(terms, k)
        if found is None:
            scores = self._retriever.get_scores(terms)
            found = [(int(i), float(scores[i])) for i in best(scores, k)]
        return found


class Postings:
    """The best chunks for a query read from the few postings that can decide them
    (MaxScore): its rarest terms' postings give candidates and a score the k-th best
    reaches at least; a common term whose highest score cannot lift a chunk holding
    only common terms past it is looked up in the candidates' rows alone. At a
    million chunks a question's common words each hold up to hundreds of thousands
    of postings; where its rare words decide, those are left unread."""

    def __init__(self, matrix: dict, budget: int) -> None:
        self._data, self._indices, self._indptr = (
            matrix["data"],
            matrix["indices"],
            matrix["indptr"],
        )
        self._budget = budget  # the postings worth reading one by one, not as a whole
        self._highest: dict[int, float] = {}  # a term's highest score, as terms recur

    def best(self, terms: list[int], k: int) -> list[tuple[int, float]] | None:
        """Like `best` over every chunk's score; None where the common terms could
        still decide, as when the rare ones match fewer than `k` chunks."""
        ids, counts = np.unique(np.asarray(terms, dtype=np.int64), return_counts=True)
        lengths = self._indptr[ids + 1] - self._indptr[ids]
        order = np.argsort(lengths, kind="stable")
        ids, counts, lengths = ids[order], counts[order], lengths[order]
        for split in range(1, len(ids) + 1):
            if lengths[:split].sum() > self._budget:
                return None  # the rare terms are not rare: scoring every chunk is as quick
            chunks, scores = self._scores(ids[:split], counts[:split])
            if split == len(ids):
                break
            rest = ids[split:], counts[split:]
            if len(chunks) >= k and self._bound(*rest) < np.partition(scores, -k)[-k]:
                scores += self._lookup(*rest, chunks)
                break
        top = np.lexsort((chunks, -scores))[:k]
        return [(int(chunks[i]), float(scores[i])) for i in top]

    def _bound(self, ids: np.ndarray, counts: np.ndarray) -> float:
        """The most terms `ids` can add to a chunk's score (with rounding's margin)."""
        total = 0.0
        for term, count in zip(ids, counts, strict=True):
            highest = self._highest.get(term)
            if highest is None:
                start, end = self._indptr[term], self._indptr[term + 1]
                highest = self._highest[term] = float(self._data[start:end].max(initial=0.0))
            total += highest * count
        return total * (1 + 1e-6)

    def _scores(self, ids: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chunks holding any of `ids`, and their scores from those terms."""
        rows = [slice(self._indptr[t], self._indptr[t + 1]) for t in ids]
        chunks, where = np.unique(
            np.concatenate([self._indices[r] for r in rows]), return_inverse=True
        )
        counts = counts.astype(self._data.dtype)
        weights = np.concatenate([self._data[r] * c for r, c in zip(rows, counts, strict=True)])
        scores = np.zeros(len(chunks), dtype=self._data.dtype)
        np.add.at(scores, where, weights)
        return chunks, scores

    def _lookup(self, ids: np.ndarray, counts: np.ndarray, chunks: np.ndarray) -> np.ndarray:
        """What terms `ids` add to the scores of `chunks` (sorted)."""
        added = np.zeros(len(chunks), dtype=self._data.dtype)
        for term, count in zip(ids, counts.astype(self._data.dtype), strict=True):
            start, end = self._indptr[term], self._indptr[term + 1]
            at = np.searchsorted(self._indices[start:end], chunks)
            held = at < end - start
            held[held] = self._indices[start + at[held]] == chunks[held]
            added[held] += self._data[start + at[held]] * count
        return added


def best(scores: np.ndarray, k: int) -> np.ndarray:
    """Where the `k` highest positive scores are, highest first (equal ones by position).
    Only chunks holding a query term score above 0, and they are few: selecting among
    them, not among every chunk as bm25s's retrieve does, saves about 10 ms a
    question at 200,000 chunks and about 95 ms at a million."""
    found = np.flatnonzero(scores > 0)
    if len(found) > k:
        values = scores[found]
        last = np.partition(values, len(found) - k)[len(found) - k]  # the k-th highest
        above = found[values > last]
        found = np.concatenate([above, found[values == last][: k - len(above)]])
    return found[np.lexsort((found, -scores[found]))]
