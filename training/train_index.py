"""What training asks its questions of: an answerer over each SQuAD set's `train`
articles alone (split.json), so that a model learns from the candidates the
answerer really sees, never from a held-out article. Shared by the reranker's
training (training/rerank.py) and the reader's weighing (training/weighing.py), and
by the benchmarks that measure on the same candidates (`asked_questions`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from bot.answer.answerer import Answerer, Candidates
from bot.answer.evaluation import contains_gold
from bot.errors import QuestionError
from index.embedding.embedder import Embedder
from training.data import train_articles


def train_set_answerers(
    shared: Path, work: Path, embedder: Embedder | None = None
) -> Iterator[tuple[str, Answerer]]:
    """Each SQuAD set's name with an answerer over an index (in `work`) of copies of
    its `train` articles; a second run finds the index in step and embeds nothing.
    The answerers weigh by the hand-weighted evidence alone (no reader, no reranker):
    what the models trained on their candidates are fitted beside."""
    from bot.settings import load_settings
    from bot.wiring import make_answerer, make_embedder, sync_from_sources
    from index.storage.article_index import ArticleIndex

    settings = load_settings(reader_dir=None, reranker=False, data_dir=work)
    embedder = embedder or make_embedder(settings)
    for name, allowed in train_articles(shared).items():
        articles = work / f"{name}-articles"
        articles.mkdir(parents=True, exist_ok=True)
        for article in sorted(allowed):
            shutil.copy(shared / "eval" / name / "articles" / f"{article}.txt", articles)
        index_dir = work / f"{name}-index"
        sync_from_sources(settings, embedder, index_dir, [str(articles)])
        yield name, make_answerer(settings, ArticleIndex.load(index_dir, embedder))


def asked_questions(
    answerer: Answerer, rows: Iterable[dict]
) -> Iterator[tuple[dict, Candidates, np.ndarray]]:
    """Each question (`rows`: the eval format) asked of the answerer alone: the row,
    the candidates an answer is chosen from, and which of them hold a gold answer.
    A question the answerer refuses (empty, too long) or finds no candidate for is
    left out: it has nothing to learn or measure from."""
    for row in rows:
        try:
            candidates = answerer.candidates(row["question"])
        except QuestionError:
            continue
        if candidates.sentences:
            answers = row.get("answers") or []
            texts = candidates.sentence_texts()
            yield row, candidates, np.array([contains_gold(t, answers) for t in texts], bool)
