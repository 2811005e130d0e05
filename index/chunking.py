"""Sentence-aware chunking sized to the model's input limit.

A chunk is a run of whole sentences from one article, given by character
offsets into the article's cleaned text, so a citation can always quote the
exact source. Consecutive chunks overlap by a sentence or two, so an answer
that straddles a boundary is still found whole.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import blingfire
import numpy as np

from index.articles import Article

TokenCounter = Callable[[list[str]], list[int]]
TokenOffsets = Callable[[str], list[tuple[int, int]]]


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: the unit that is embedded, retrieved and quoted."""

    id: str
    article_id: str
    start: int
    end: int
    text: str
    position: int = field(default=-1, compare=False)  # in its loaded version; -1 until then

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "article_id": self.article_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict, position: int = -1) -> Chunk:
        return cls(
            data["id"], data["article_id"], data["start"], data["end"], data["text"], position
        )


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size in word pieces, excluding the model's two special tokens (the
    settings are IndexConfig's chunk_target_tokens and chunk_overlap_tokens; the
    limit is the model's)."""

    target_tokens: int
    max_tokens: int
    overlap_tokens: int

    def __post_init__(self) -> None:
        if not 0 < self.target_tokens <= self.max_tokens:
            raise ValueError("chunk target must be positive and at most the model limit")
        if not 0 <= self.overlap_tokens < self.target_tokens:
            raise ValueError("chunk overlap must be smaller than the chunk target")


def sentence_spans(text: str) -> list[Span]:
    """Sentences of `text` as character spans, paragraph breaks always ending one."""
    spans: list[Span] = []
    offset = 0
    for paragraph in text.split("\n\n"):
        if paragraph.strip():
            for start, end in sentence_offsets(paragraph):
                spans.extend(_trimmed(paragraph, start, end, offset))
        offset += len(paragraph) + 2
    return spans


def sentence_offsets(text: str) -> list[tuple[int, int]]:
    """Blingfire's sentences of `text` as (start, end) character offsets: what
    `blingfire.text_to_sentences_and_offsets` gives, without its Python loop over
    every byte (over a third of chunking's time), by mapping UTF-8 offsets with numpy."""
    data = text.encode("utf-8")
    room = 2 * len(data) + 1
    out = ctypes.create_string_buffer(room)
    starts, ends = (ctypes.c_int32 * room)(), (ctypes.c_int32 * room)()
    count = blingfire.blingfire.TextToSentencesWithOffsets(
        ctypes.c_char_p(data), ctypes.c_int(len(data)), ctypes.byref(out),
        ctypes.byref(starts), ctypes.byref(ends), ctypes.c_int(room),
    )  # fmt: skip
    if count < 0 or count > room:
        return []
    if not out.value:  # only invisible characters: blingfire's wrapper gives the whole text
        return [(0, len(text))]
    sentences = out.value.count(b"\n") + 1
    first = np.frombuffer(starts, dtype=np.int32, count=sentences)
    last = np.frombuffer(ends, dtype=np.int32, count=sentences)  # the last byte, inclusive
    if len(data) == len(text):  # ASCII: bytes are characters
        return list(zip(first.tolist(), (last + 1).tolist(), strict=True))
    character = np.cumsum((np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80) - 1
    return list(zip(character[first].tolist(), (character[last] + 1).tolist(), strict=True))


def _trimmed(paragraph: str, start: int, end: int, offset: int) -> list[Span]:
    piece = paragraph[start:end]
    stripped = piece.strip()
    if not stripped:
        return []
    lead = len(piece) - len(piece.lstrip())
    return [Span(offset + start + lead, offset + start + lead + len(stripped))]


def _split_long(
    text: str, span: Span, limit: int, count: TokenCounter, offsets: TokenOffsets
) -> list[Span]:
    """Cut one over-long sentence into pieces of at most `limit` word pieces,
    at word boundaries where there are any (a cut inside a word re-tokenises
    differently, so every piece is counted again)."""
    sentence = text[span.start : span.end]
    pieces = offsets(sentence)
    result, i = [], 0
    while i < len(pieces):
        j = min(i + limit, len(pieces))
        k = j
        while j < len(pieces) and k > i + 1 and pieces[k][0] == pieces[k - 1][1]:
            k -= 1  # back off to the start of a word
        j = k if k > i + 1 else j
        while j > i + 1 and count([sentence[pieces[i][0] : pieces[j - 1][1]]])[0] > limit:
            j -= max(1, (j - i) // 16)
        result.append(Span(span.start + pieces[i][0], span.start + pieces[j - 1][1]))
        i = j
    return result


def sentence_units(
    text: str, limit: int, count: TokenCounter, offsets: TokenOffsets
) -> list[tuple[Span, int]]:
    """Sentences with their token counts; any sentence over `limit` is cut up."""
    spans = sentence_spans(text)
    counts = count([text[s.start : s.end] for s in spans])
    units: list[tuple[Span, int]] = []
    for span, tokens in zip(spans, counts, strict=True):
        if tokens <= limit:
            units.append((span, tokens))
            continue
        pieces = _split_long(text, span, limit, count, offsets)
        piece_counts = count([text[p.start : p.end] for p in pieces])
        units.extend(zip(pieces, piece_counts, strict=True))
    return units


def pack(units: Sequence[tuple[Span, int]], config: ChunkingConfig) -> list[tuple[int, int]]:
    """Group consecutive sentence units into chunks: (first, last) unit indexes."""
    groups: list[tuple[int, int]] = []
    first, tokens = 0, 0
    for i, (_, size) in enumerate(units):
        if i > first and tokens + size > config.target_tokens:
            groups.append((first, i - 1))
            first, tokens = _overlap_start(units, first, i, size, config), 0
            tokens = sum(units[j][1] for j in range(first, i))
        tokens += size
    if units:
        groups.append((first, len(units) - 1))
    return groups


def _overlap_start(
    units: Sequence[tuple[Span, int]],
    previous_first: int,
    nxt: int,
    size: int,
    config: ChunkingConfig,
) -> int:
    """How far back the next chunk may start: whole sentences within the overlap budget,
    never the whole previous chunk, never past the hard limit."""
    start, carried = nxt, 0
    while start - 1 > previous_first:
        candidate = units[start - 1][1]
        if (
            carried + candidate > config.overlap_tokens
            or carried + candidate + size > config.max_tokens
        ):
            break
        carried += candidate
        start -= 1
    return start


def chunk_article(
    article: Article, config: ChunkingConfig, count: TokenCounter, offsets: TokenOffsets
) -> list[Chunk]:
    """Split one article into overlapping chunks of whole sentences."""
    text = article.text
    units = sentence_units(text, config.max_tokens, count, offsets)
    chunks = []
    for n, (first, last) in enumerate(pack(units, config)):
        start, end = units[first][0].start, units[last][0].end
        chunks.append(Chunk(f"{article.id}#{n}", article.id, start, end, text[start:end]))
    return chunks
