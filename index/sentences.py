"""Every sentence of every chunk, split and embedded once, at build time: where it
is (chunk, start, end) and its vector. The answer is a sentence, and the sentence
closest in meaning to the question is usually the one that answers it, which a
chunk's one vector blurs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chunking import Chunk, sentence_spans

SPANS = "sentence-spans.npy"
VECTORS = "sentence-vectors.npy"


@dataclass(frozen=True)
class SentenceTable:
    """Rows in chunk order: `spans` [n, 3] holds (chunk position, start, end) with
    the span inside the chunk's text; `vectors` [n, dim] the unit vector of each."""

    spans: np.ndarray
    vectors: np.ndarray

    @staticmethod
    def split(chunks: list[Chunk]) -> tuple[np.ndarray, list[str]]:
        """The spans of every chunk's sentences, and their texts, to embed."""
        rows, texts = [], []
        for position, chunk in enumerate(chunks):
            for span in sentence_spans(chunk.text):
                rows.append((position, span.start, span.end))
                texts.append(chunk.text[span.start : span.end])
        spans = np.array(rows, dtype=np.int32).reshape(-1, 3)
        return spans, texts

    def rows_of(self, position: int) -> slice:
        """The rows of one chunk's sentences."""
        first = int(np.searchsorted(self.spans[:, 0], position, side="left"))
        last = int(np.searchsorted(self.spans[:, 0], position, side="right"))
        return slice(first, last)

    def save(self, folder: Path, write: Callable[[Path, Callable[[Path], None]], None]) -> None:
        """Written with `write(path, fn)`, the build's durable writer."""
        write(folder / SPANS, lambda p: _save(p, self.spans))
        write(folder / VECTORS, lambda p: _save(p, self.vectors))

    @classmethod
    def load(cls, folder: Path, chunks: int, dimension: int) -> SentenceTable:
        """Mapped from disk, not read: a large version opens at once, and only the rows
        of the chunks questions reach come into memory. Rows are in chunk order, so the
        first and last say whether every row names a chunk of this version."""
        spans = np.load(folder / SPANS, mmap_mode="r", allow_pickle=False)
        vectors = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
        if (
            spans.ndim != 2
            or spans.shape[1] != 3
            or vectors.shape != (len(spans), dimension)
            or vectors.dtype != np.float32
            or (len(spans) and (spans[0, 0] < 0 or spans[-1, 0] >= chunks))
        ):
            raise ValueError("sentence table does not match the chunks")
        return cls(spans, vectors)


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
