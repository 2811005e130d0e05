"""Sentence-aware chunking sized to the model's input limit.

A chunk is a run of whole sentences from one article, given by character
offsets into the article's cleaned text, so a citation can always quote the
exact source. Consecutive chunks overlap by a sentence or two, so an answer
that straddles a boundary is still found whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.records import Article, Chunk, Span
from index.sentence_split import sentence_spans

TokenCounter = Callable[[list[str]], list[int]]
TokenOffsets = Callable[[str], list[tuple[int, int]]]


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
