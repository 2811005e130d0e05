"""Property-based tests (hypothesis) of the text side: loaders, the chunker and the
sentence splitter never crash and keep their invariants, whatever the text. Apart
from tests/test_properties.py so that, 10,000 cases each in `make test`, the two
files run on two workers side by side."""

from __future__ import annotations

import re

import blingfire
import pytest
from hypothesis import assume, given, settings

from index.build.chunking import ChunkingConfig, chunk_article
from index.errors import SourceError
from index.sentence_split import sentence_offsets, sentence_spans
from index.sources.articles import make_article, normalise_text, parse_text
from tests.fakes.hashing import HashingEmbedder
from tests.strategies import CASES, TEXT, ran_every_case

pytestmark = pytest.mark.timeout(3600)  # 10,000 cases a target in `make test`


def test_loading_any_text_gives_an_article_or_a_clear_error() -> None:
    cases: list[int] = []

    @given(TEXT, TEXT)
    def check(title: str, body: str) -> None:
        cases.append(1)
        load_any(title, body)

    check()
    ran_every_case(cases)


def load_any(title: str, body: str) -> None:
    try:
        article = parse_text(f"{title}\n\n{body}", article_id="a", source="mem")
    except SourceError as exc:
        assert exc.reason  # e.g. "the article has no text"
        return
    assert article.text and article.text == normalise_text(article.text)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", article.text)


def test_chunker_properties(fast_embedder: HashingEmbedder) -> None:
    cases: list[int] = []
    config = ChunkingConfig(
        target_tokens=60, overlap_tokens=16, max_tokens=fast_embedder.max_tokens - 2
    )

    @given(TEXT)
    def check(body: str) -> None:
        cases.append(1)
        try:
            article = make_article(article_id="a", title="T", body=body, source="mem")
        except SourceError:
            return
        chunks = chunk_article(
            article, config, fast_embedder.count_tokens, fast_embedder.token_offsets
        )
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text  # offsets slice back
            assert fast_embedder.count_tokens([chunk.text])[0] <= config.max_tokens  # model limit
        for span in sentence_spans(article.text):  # chunks cover the cleaned text
            assert any(c.start <= span.start < c.end for c in chunks)

    check()
    ran_every_case(cases)


def test_sentence_offsets_are_blingfires() -> None:
    """Our UTF-8 offset mapping gives blingfire's own sentences, for any text an
    article can hold (cleaned text has no NUL). Where blingfire finds no sentence
    (only invisible characters), the whole text is one."""
    assert sentence_offsets(" \u200b\u200b") == [(0, 3)]
    cases: list[int] = []

    @settings(max_examples=min(CASES, 2000))  # a narrow target: 2,000 cases cover it
    @given(TEXT.filter(lambda t: t.strip() and "\x00" not in t))
    def check(text: str) -> None:
        cases.append(1)
        assume(blingfire.text_to_sentences(text).strip())  # else its offsets are garbage
        _, expected = blingfire.text_to_sentences_and_offsets(text)
        assert sentence_offsets(text) == expected

    check()
    assert len(cases) >= min(CASES, 2000) // 2
