"""Each article's summary, chosen at build time from the sentences a version already
splits and embeds, so that "what is this article about?" costs no model call.

The chosen sentences lead the article (news puts its gist first: the lead is a hard
baseline on news summarisation) and sit close to the article's centroid and its
title (a headline states the gist), with a penalty for saying again what a chosen
one says (maximal marginal relevance). They are given in article order, at most
SUMMARY_CHARS in all. A summary is a list of sentence spans as the sentence table
holds them: (chunk position, start, end), the span inside that chunk's text, so an
answer quotes and cites them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from index.records import Chunk
from index.storage.sentences import SUMMARY_SENTENCES, SentenceSpan, SentenceTable

SUMMARY_CHARS = 600
LEAD_WEIGHT = 0.5  # the lead's share of a sentence's score, beside the centroid's
REPEAT_PENALTY = 0.7  # how much closeness to a chosen sentence counts against one
SHORTEST = 40  # characters: a shorter "sentence" is a fragment ("Japan."), not a summary's


def summaries(
    chunks: Sequence[Chunk], sentences: SentenceTable, titles: Mapping[str, np.ndarray]
) -> dict[str, list[SentenceSpan]]:
    """Every article's summary, by article id (`titles`: each title's vector)."""
    rows_by_article: dict[str, list[int]] = {}
    starts_seen: dict[str, set[int]] = {}
    for position, chunk in enumerate(chunks):
        seen = starts_seen.setdefault(chunk.article_id, set())
        rows = rows_by_article.setdefault(chunk.article_id, [])
        for row in range(*sentences.rows_of(position).indices(len(sentences.spans))):
            _, begin, end = (int(x) for x in sentences.spans[row])
            start = chunk.start + begin  # in the article's text
            if start not in seen and end - begin >= SHORTEST:  # chunks overlap: each once
                seen.add(start)
                rows.append(row)
    return {
        article_id: [tuple(int(x) for x in sentences.spans[row]) for row in chosen]
        for article_id, rows in rows_by_article.items()
        if (chosen := choose(rows, sentences, titles.get(article_id)))
    }


def choose(rows: list[int], sentences: SentenceTable, title: np.ndarray | None) -> list[int]:
    """The rows of one article's summary (its sentences' rows in article order)."""
    if not rows:
        return []
    vectors = np.asarray(sentences.vectors[rows[0] : rows[-1] + 1])[np.array(rows) - rows[0]]
    lengths = [int(sentences.spans[r, 2] - sentences.spans[r, 1]) for r in rows]
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    anchor = centroid if title is None else (centroid + title) / 2  # the title states the gist
    lead = 1.0 / (1.0 + np.arange(len(rows)))
    worth = (1 - LEAD_WEIGHT) * (vectors @ anchor) + LEAD_WEIGHT * lead
    chosen: list[int] = []
    left = SUMMARY_CHARS
    for _ in range(SUMMARY_SENTENCES):
        repeat = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(rows))
        score = worth - REPEAT_PENALTY * repeat
        fits = [i for i in np.argsort(-score) if i not in chosen and lengths[i] + 1 <= left]
        if not fits:
            break
        chosen.append(int(fits[0]))
        left -= lengths[fits[0]] + 1
    return [rows[i] for i in sorted(chosen)]
