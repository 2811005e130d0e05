"""Where sentences begin and end in a text: the one sentence splitter that
chunking (build), the sentence table (storage) and the answer's sentence choice
(retrieval) all use, so they agree on every boundary."""

from __future__ import annotations

import ctypes

import blingfire
import numpy as np

from index.records import Span


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
