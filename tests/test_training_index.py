"""What training asks its questions of (training/train_index.py): per SQuAD set, an
answerer over its `train` articles alone, never a held-out one; a second run finds
the index in step. Fast tier: the hashing embedder, on a hand-made copy of the
shared folder's layout."""

from __future__ import annotations

import json
from pathlib import Path

from training.train_index import train_set_answerers

ARTICLES = {
    "001-Harbour": "The harbour bridge\n\nThe harbour bridge opened in 1932 after eight "
    "years of work. Its steel arch carries eight lanes of traffic and two railway tracks.",
    "002-Comet": "Comet Tsuchinshan\n\nComet Tsuchinshan was seen from Chile in 2024. "
    "Astronomers photographed its long tail from the mountains of the Atacama desert.",
    "003-Orchard": "The orchard festival\n\nThe orchard festival drew a record crowd this "
    "year. Apples sold out by noon, and the cider stalls closed an hour early.",
}


def layout(root: Path) -> Path:
    """split.json and one SQuAD set's articles, two of them for training."""
    (root / "train").mkdir(parents=True)
    split = {"squad-v1.1-dev": {"train": ["001-Harbour", "002-Comet"], "held_out": ["003-Orchard"]}}
    (root / "train" / "split.json").write_text(json.dumps(split))
    articles = root / "eval" / "squad-v1.1-dev" / "articles"
    articles.mkdir(parents=True)
    for name, body in ARTICLES.items():
        (articles / f"{name}.txt").write_text(body)
    return root


def test_each_set_is_answered_from_its_train_articles_alone(tmp_path: Path, fast_embedder) -> None:
    shared, work = layout(tmp_path / "a-copy-of-its-layout"), tmp_path / "work"
    [(name, answerer)] = list(train_set_answerers(shared, work, fast_embedder))
    assert answerer.reranker is None and answerer.reader is None  # the evidence alone
    assert name == "squad-v1.1-dev"
    titles = sorted(a.title for a in answerer.index.articles.values())
    assert titles == ["Comet Tsuchinshan", "The harbour bridge"]  # not the held-out orchard
    assert "1932" in answerer.answer("When did the harbour bridge open?").text
    assert "noon" not in answerer.answer("When did the apples sell out at the orchard?").text
    [(_, again)] = list(train_set_answerers(shared, work, fast_embedder))
    assert again.index.version == answerer.index.version  # nothing changed, nothing rebuilt
