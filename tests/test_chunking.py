"""Chunking: sentence-aware, overlapping, never over the model's limit, exact offsets."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from bot.settings import bundled_dir
from index.build.chunking import ChunkingConfig, chunk_article
from index.build.publish import chunking_config
from index.config import IndexConfig
from index.embedding.embedder import Embedder
from index.sentence_split import sentence_spans
from index.sources.articles import load_articles, make_article
from tests.fakes.hashing import HashingEmbedder

LONG_ARTICLES = Path(__file__).parent / "fixtures-long"  # two Wikipedia articles (README)


def config(embedder: Embedder, **settings: int) -> ChunkingConfig:
    """Chunking as the settings give it (the defaults, or e.g. chunk_target_tokens=60)."""
    return chunking_config(IndexConfig(**settings), embedder)


def chunks_of(text: str, embedder: Embedder, **settings: int):
    article = make_article(article_id="a", title="T", body=text, source="mem")
    cfg = config(embedder, **settings)
    return article, chunk_article(article, cfg, embedder.count_tokens, embedder.token_offsets)


def model_tokens(embedder: Embedder, text: str) -> int:
    """Word pieces the model is fed for `text`, its special tokens included: the model's
    own tokenizer file, encoding as the model does (not our count_tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(embedder.model_path / "tokenizer.json"))
    tokenizer.no_truncation()
    return len(tokenizer.encode(text, add_special_tokens=True).ids)


def test_chunks_fit_the_model_and_slice_back(fast_embedder: HashingEmbedder) -> None:
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    article = articles[0]
    chunks = chunk_article(
        article, config(fast_embedder), fast_embedder.count_tokens, fast_embedder.token_offsets
    )
    assert len(chunks) >= 2
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.article_id == article.id
        assert model_tokens(fast_embedder, chunk.text) <= fast_embedder.max_tokens


def test_every_sentence_is_in_some_chunk_and_chunks_overlap(fast_embedder: HashingEmbedder) -> None:
    text = " ".join(
        f"Sentence number {i} tells of the harbour and the {i} ships." for i in range(60)
    )
    article, chunks = chunks_of(
        text, fast_embedder, chunk_target_tokens=60, chunk_overlap_tokens=20
    )
    for span in sentence_spans(article.text):
        assert any(c.start <= span.start and span.end <= c.end for c in chunks)
    overlaps = [b.start < a.end for a, b in pairwise(chunks)]
    assert all(overlaps)
    # chunks start and end on sentence boundaries
    starts = {s.start for s in sentence_spans(article.text)}
    assert all(c.start in starts for c in chunks)


def test_one_giant_sentence_is_cut_within_the_limit(fast_embedder: HashingEmbedder) -> None:
    text = "word " * 3000 + "pneumonoultramicroscopicsilicovolcanoconiosis " * 200
    article, chunks = chunks_of(text.strip() + ".", fast_embedder)
    assert len(chunks) > 10
    covered = "".join(article.text[c.start : c.end] for c in chunks)
    assert covered.replace(" ", "") == article.text.replace(" ", "")
    for chunk in chunks:
        assert model_tokens(fast_embedder, chunk.text) <= fast_embedder.max_tokens


def test_real_articles_never_exceed_the_limit(fast_embedder: HashingEmbedder) -> None:
    long_ones = [str(f) for f in sorted(LONG_ARTICLES.glob("*.txt"))]
    sources = [*long_ones, str(bundled_dir() / "articles")]
    articles, failures = load_articles(sources)
    assert len(articles) == 3 and not failures
    for article in articles:
        for chunk in chunk_article(
            article,
            config(fast_embedder, chunk_target_tokens=254),
            fast_embedder.count_tokens,
            fast_embedder.token_offsets,
        ):
            assert model_tokens(fast_embedder, chunk.text) <= fast_embedder.max_tokens
            assert article.text[chunk.start : chunk.end] == chunk.text
