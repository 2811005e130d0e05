"""A version's chunks and articles as tables on disk that a loaded version reads a
row at a time: opening a version of a million passages makes no object per
chunk or per article, and a chunk or an article becomes one only when a question
reaches it.

    chunk-text.bin      every chunk's text, UTF-8, in chunk order
    chunk-index.npy     int64 [chunks, 6]: the text's byte start and end in
                        chunk-text.bin, the article's row, the chunk's ordinal
                        in its article, its start and end in the article's text
    articles.jsonl      one article a line, in the manifest's order
    article-offsets.npy int64 [articles + 1]: where each line begins
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from index.errors import IndexCorruptError
from index.records import Article, Chunk
from index.storage.files import FileBytes, mapped, save_array
from index.storage.layout import REBUILD_HINT

CHUNK_TEXT = "chunk-text.bin"
CHUNK_INDEX = "chunk-index.npy"
ARTICLE_OFFSETS = "article-offsets.npy"
ARTICLE_CACHE = 1024  # articles kept as objects, most recently cited first

Writer = Callable[[Path, Callable[[Path], None]], None]


def write_chunks(
    folder: Path, chunks: Sequence[Chunk], articles: Sequence[Article], write: Writer
) -> None:
    """The chunk table of a version being built (`write(path, fn)`: the build's
    durable writer). Chunk ids are `<article id>#<ordinal>`, as chunking names them."""
    row_of = {a.id: row for row, a in enumerate(articles)}
    texts = [c.text.encode("utf-8") for c in chunks]
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    table = np.empty((len(chunks), 6), dtype=np.int64)
    table[:, 1] = np.cumsum(lengths)
    table[:, 0] = table[:, 1] - lengths
    for position, chunk in enumerate(chunks):
        article_id, _, ordinal = chunk.id.rpartition("#")
        if article_id != chunk.article_id or not ordinal.isdigit():
            raise ValueError(f"chunk id {chunk.id!r} is not <article id>#<ordinal>")
        table[position, 2:] = (row_of[article_id], int(ordinal), chunk.start, chunk.end)
    write(folder / CHUNK_TEXT, lambda p: p.write_bytes(b"".join(texts)))
    write(folder / CHUNK_INDEX, lambda p: save_array(p, table))


def write_articles(folder: Path, articles: Sequence[Article], write: Writer, name: str) -> None:
    """articles.jsonl (`name`) and where each of its lines begins."""
    lines = [(json.dumps(a.to_dict(), ensure_ascii=False) + "\n").encode("utf-8") for a in articles]
    offsets = np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(np.int64)
    write(folder / name, lambda p: p.write_bytes(b"".join(lines)))
    write(folder / ARTICLE_OFFSETS, lambda p: save_array(p, offsets))


class ChunkTable(Sequence[Chunk]):
    """A version's chunks, made into `Chunk`s one at a time as they are read."""

    def __init__(self, folder: Path, article_ids: list[str]) -> None:
        self._index = mapped(folder / CHUNK_INDEX)
        self._text = FileBytes(folder / CHUNK_TEXT)
        self._article_ids = article_ids
        rows = self._index
        if rows.ndim != 2 or rows.shape[1] != 6 or rows.dtype != np.int64:
            raise ValueError("the chunk index has the wrong shape")
        # each row's article is checked when it is read: checking the whole column here
        # reads it all, 48 MB at a million chunks, a tenth of a cold open
        if len(rows) and rows[-1, 1] != len(self._text):
            raise ValueError("the chunk index does not match the chunk text")

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, position: int) -> Chunk:  # type: ignore[override]
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        first, last, article, ordinal, start, end = self._index[position].tolist()
        if not 0 <= article < len(self._article_ids):
            raise IndexCorruptError(
                f"chunk {position} of the chunk index names no article of this version; "
                f"{REBUILD_HINT}"
            )
        article_id = self._article_ids[article]
        text = self._text[first:last].decode("utf-8")
        return Chunk(f"{article_id}#{ordinal}", article_id, start, end, text, position)


class ArticleTable(Mapping[str, Article]):
    """A version's articles by id, each read from its line when first asked for.
    The ids, titles and dates are the manifest's; iterating reads every article."""

    def __init__(self, folder: Path, name: str, article_ids: list[str]) -> None:
        self._offsets = mapped(folder / ARTICLE_OFFSETS)
        self._lines = FileBytes(folder / name)
        self._row = {article_id: row for row, article_id in enumerate(article_ids)}
        if self._offsets.shape != (len(article_ids) + 1,) or self._offsets[-1] != len(self._lines):
            raise ValueError("the article offsets do not match the articles")
        # a function of the table's files, not a bound method: see Retriever.sentences_at
        self._read = lru_cache(maxsize=ARTICLE_CACHE)(
            partial(read_article, self._offsets, self._lines, self._row)
        )

    def __len__(self) -> int:
        return len(self._row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._row

    def __getitem__(self, article_id: str) -> Article:
        return self._read(self._row[article_id])

    def row(self, article_id: str) -> int:
        """The article's line: its row in every per-article table of the version."""
        return self._row[article_id]


def read_article(offsets: np.ndarray, lines: FileBytes, rows: dict[str, int], row: int) -> Article:
    """The article on line `row`, checked to be the one the manifest puts there."""
    first, last = int(offsets[row]), int(offsets[row + 1])
    article = Article.from_dict(json.loads(lines[first:last]))
    if rows.get(article.id) != row:
        raise IndexCorruptError(
            f"line {row + 1} of the articles is not article {article.id}; {REBUILD_HINT}"
        )
    return article
