"""Every sentence of every chunk, split, embedded and reduced to its terms once, at
build time: where it is (chunk, start, end), its vector and its terms. The answer
is a sentence, and the sentence closest in meaning to the question is usually the
one that answers it, which a chunk's one vector blurs. Stored as arrays that a
loaded version maps or reads a chunk's rows at a time, so opening one does no
per-sentence work."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from index.records import Chunk
from index.sentence_split import sentence_spans
from index.storage.files import FileRows, mapped, save_array
from index.storage.terms import Terms

SPANS = "sentence-spans.npy"
VECTORS = "sentence-vectors.npy"
CHUNK_ROWS = "sentence-chunk-rows.npy"
TERM_OFFSETS = "sentence-term-offsets.npy"
TERM_KEYS = "sentence-terms.npy"

SUMMARY_SPANS = "summary-spans.npy"
SUMMARY_SENTENCES = 4  # the most sentences an article's summary holds
SUMMARY_TITLE_CHARS = 120  # a longer title is shortened where a summary shows it

SentenceSpan = tuple[int, int, int]  # a row of `spans`: (chunk position, start, end)


@dataclass(frozen=True)
class SentenceTerms:
    """Each sentence's terms as term keys (index/storage/terms.py): row i's are
    `keys[offsets[i]:offsets[i + 1]]`."""

    offsets: np.ndarray
    keys: np.ndarray | FileRows

    @classmethod
    def of(cls, texts: Iterable[str], terms: Terms) -> SentenceTerms:
        offsets, keys = array("q", [0]), array("q")
        for text in texts:
            keys.extend(terms.keys(text))
            offsets.append(len(keys))
        return cls(np.frombuffer(offsets, dtype=np.int64), np.frombuffer(keys, dtype=np.int64))

    def of_rows(self, rows: slice) -> list[frozenset[int]]:
        """The terms of each row in `rows` (one chunk's sentences), read at once."""
        bounds = self.offsets[rows.start : rows.stop + 1].tolist()
        if not bounds:
            return []
        keys, first = self.keys[bounds[0] : bounds[-1]].tolist(), bounds[0]
        return [frozenset(keys[a - first : b - first]) for a, b in pairwise(bounds)]


@dataclass(frozen=True)
class SentenceTable:
    """Rows in chunk order: `spans` [n, 3] holds (chunk position, start, end) with
    the span inside the chunk's text; `vectors` [n, dim] the unit vector of each;
    `chunk_rows` [chunks + 1] where each chunk's rows begin; `terms` each row's
    terms. (The last two are None in versions built before them.)"""

    spans: np.ndarray
    vectors: np.ndarray | FileRows
    chunk_rows: np.ndarray | None = None
    terms: SentenceTerms | None = None

    @classmethod
    def of(
        cls, spans: np.ndarray, vectors: np.ndarray, texts: Iterable[str], chunks: int
    ) -> SentenceTable:
        """The table of a version being built: `texts` are the sentences `spans` hold."""
        rows = np.searchsorted(spans[:, 0], np.arange(chunks + 1), side="left")
        return cls(spans, vectors, rows.astype(np.int64), SentenceTerms.of(texts, Terms()))

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
        if self.chunk_rows is not None:
            return slice(int(self.chunk_rows[position]), int(self.chunk_rows[position + 1]))
        first = int(np.searchsorted(self.spans[:, 0], position, side="left"))
        last = int(np.searchsorted(self.spans[:, 0], position, side="right"))
        return slice(first, last)

    def save(self, folder: Path, write: Callable[[Path, Callable[[Path], None]], None]) -> None:
        """Written with `write(path, fn)`, the build's durable writer."""
        write(folder / SPANS, lambda p: save_array(p, self.spans))
        write(folder / VECTORS, lambda p: save_array(p, self.vectors))
        if self.chunk_rows is not None and self.terms is not None:
            write(folder / CHUNK_ROWS, lambda p: save_array(p, self.chunk_rows))
            write(folder / TERM_OFFSETS, lambda p: save_array(p, self.terms.offsets))
            write(folder / TERM_KEYS, lambda p: save_array(p, self.terms.keys))

    @classmethod
    def load(cls, folder: Path, chunks: int, dimension: int) -> SentenceTable:
        """Opened, not read: a large version opens at once, and only the rows of the
        chunks questions reach are read (the vectors and terms a chunk's rows at a
        time, the small per-row indexes mapped). Rows are in chunk order, so the first
        and last say whether every row names a chunk of this version."""
        spans, vectors = mapped(folder / SPANS), FileRows(folder / VECTORS)
        if (
            spans.ndim != 2
            or spans.shape[1] != 3
            or vectors.shape != (len(spans), dimension)
            or vectors.dtype != np.float32
            or (len(spans) and (spans[0, 0] < 0 or spans[-1, 0] >= chunks))
        ):
            raise ValueError("sentence table does not match the chunks")
        if not (folder / CHUNK_ROWS).is_file():
            return cls(spans, vectors)  # built before sentence terms
        rows, offsets = mapped(folder / CHUNK_ROWS), mapped(folder / TERM_OFFSETS)
        keys = FileRows(folder / TERM_KEYS)
        if (
            rows.shape != (chunks + 1,)
            or rows[-1] != len(spans)
            or offsets.shape != (len(spans) + 1,)
            or offsets[-1] != len(keys)
            or keys.dtype != np.int64
        ):
            raise ValueError("sentence terms do not match the sentences")
        return cls(spans, vectors, rows, SentenceTerms(offsets, keys))


def summary_array(article_ids: list[str], chosen: dict[str, list[SentenceSpan]]) -> np.ndarray:
    """Each article's summary (index/build/summaries.py) as a row of sentence spans,
    in the articles' order, padded with -1: one array a version maps."""
    table = np.full((len(article_ids), SUMMARY_SENTENCES, 3), -1, dtype=np.int64)
    for row, article_id in enumerate(article_ids):
        for n, span in enumerate(chosen.get(article_id, [])):
            table[row, n] = span
    return table


@dataclass(frozen=True)
class SummaryTable:
    """A version's summaries, mapped (opening one reads nothing); `row_of` finds an
    article's row, as the article table keeps it."""

    spans: np.ndarray
    row_of: Callable[[str], int]

    def of(self, article_id: str) -> list[SentenceSpan]:
        spans = self.spans[self.row_of(article_id)]
        return [(int(p), int(s), int(e)) for p, s, e in spans.tolist() if p >= 0]
