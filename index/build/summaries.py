"""Each article's summary, chosen at build time from the sentences a version already
splits and embeds, so that "what is this article about?" costs no model call.

The chosen sentences lead the article (news puts its gist first: the lead is a hard
baseline on news summarisation) and sit close to the article's centroid and its
title (a headline states the gist), with a penalty for saying again what an earlier
chosen one says (maximal marginal relevance, read in article order). The set is
the best one under the length budget among the best-scoring sentences, searched
whole: picking one sentence at a time fills the budget with the first long ones
and leaves no room for a short one that scores nearly as well. A summary is shown
after its title, in article order, title and sentences at most SUMMARY_CHARS in
all. It is stored as a list of sentence spans as the sentence table holds them:
(chunk position, start, end), the span inside that chunk's text, so an answer
quotes and cites them directly.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from index.records import Chunk
from index.storage.sentences import (
    SUMMARY_SENTENCES,
    SUMMARY_TITLE_CHARS,
    SentenceSpan,
    SentenceTable,
)

SUMMARY_CHARS = 600  # the title, ": " and the sentences
LEAD_WEIGHT = 0.5  # the lead's share of a sentence's score, beside the centroid's
REPEAT_PENALTY = 0.7  # how much closeness to an earlier chosen sentence counts against one
SHORTEST = 40  # characters: a shorter "sentence" is a fragment ("Japan."), not a summary's
CANDIDATES = 12  # the best-scoring sentences the set is chosen among (793 sets at most)


class Title(NamedTuple):
    """An article's title: its text (its length takes from the budget) and its vector."""

    text: str
    vector: np.ndarray


def sentence_budget(title: str) -> int:
    """The characters left for the sentences after the title (as shown) and ": "."""
    return SUMMARY_CHARS - min(len(title), SUMMARY_TITLE_CHARS) - 2


def summaries(
    chunks: Sequence[Chunk], sentences: SentenceTable, titles: Mapping[str, Title]
) -> dict[str, list[SentenceSpan]]:
    """Every article's summary, by article id."""
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


def choose(rows: list[int], sentences: SentenceTable, title: Title | None) -> list[int]:
    """The rows of one article's summary (its sentences' rows in article order)."""
    if not rows:
        return []
    vectors = np.asarray(sentences.vectors[rows[0] : rows[-1] + 1])[np.array(rows) - rows[0]]
    lengths = [int(sentences.spans[r, 2] - sentences.spans[r, 1]) for r in rows]
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    anchor = centroid if title is None else (centroid + title.vector) / 2
    lead = 1.0 / (1.0 + np.arange(len(rows)))
    worth = (1 - LEAD_WEIGHT) * (vectors @ anchor) + LEAD_WEIGHT * lead
    budget = sentence_budget(title.text if title else "")
    chosen = best_set(worth, vectors @ vectors.T, lengths, budget)
    return [rows[i] for i in chosen]


def best_set(
    worth: np.ndarray, similar: np.ndarray, lengths: list[int], budget: int
) -> tuple[int, ...]:
    """The sentences (indices, in order) whose worth, less each one's closeness to the
    earlier ones, is highest, among the CANDIDATES best; 2 to SUMMARY_SENTENCES of
    them within `budget` characters joined by spaces (one, if no two fit)."""
    pool = sorted(int(i) for i in np.argsort(-worth)[:CANDIDATES])
    best: tuple[int, ...] = ()
    best_value = -np.inf
    for size in (*range(2, SUMMARY_SENTENCES + 1), 1):
        if size == 1 and best:
            break
        for picked in itertools.combinations(pool, size):
            if sum(lengths[i] for i in picked) + size - 1 > budget:
                continue
            value = sum(
                worth[i] - (REPEAT_PENALTY * similar[i, list(picked[:n])].max() if n else 0.0)
                for n, i in enumerate(picked)
            )
            if value > best_value:
                best, best_value = picked, value
    return best
