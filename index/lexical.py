"""BM25 over the chunks (bm25s), stored beside the FAISS vectors: names, dates and
numbers are where embeddings alone miss."""

from __future__ import annotations

import logging
import threading
from functools import cache
from pathlib import Path

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
    out, Snowball stems (for stores that index terms made here: index/milvus.py)."""
    import Stemmer

    return LexicalIndex._tokenize(texts, Stemmer.Stemmer("english"), return_ids=False)


class LexicalIndex:
    """A BM25 retriever over chunk texts, with the same stemming for queries."""

    def __init__(self, retriever: object, size: int) -> None:
        import Stemmer

        self._retriever = retriever
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
        retriever = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False)
        return cls(retriever, size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) of the best `k` chunks with any query term."""
        k = min(k, self.size)
        with self._lock:
            tokens = self._tokenize([query], self._stemmer, return_ids=False)
        if k <= 0 or not tokens[0]:
            return []
        # n_threads=0: in this thread (1 starts a thread pool on every call)
        ids, scores = self._retriever.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
