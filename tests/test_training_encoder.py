"""The sentence reader's training (training/encoder.py) and export
(training/export.py) on a tiny encoder made here, not the shipped weights: a few
steps lower the loss and rank each answering sentence first, the int8 ONNX
export reads as the trained model does, without torch (bot/answer/reader.py), and
an answerer given its folder (`reader_dir`) answers and abstains by its weighing.
Fast tier: the shipped tokenizer only."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bot.answer.reader import READINGS, SentenceReader
from bot.answer.signals import FEATURES
from bot.settings import load_settings
from bot.wiring import make_answerer
from index.embedding.embedder import package_model_path
from index.storage.article_index import ArticleIndex

# torch, transformers and the training modules are imported by the tests that use them:
# every worker of a parallel run imports each test module to collect it, and torch
# would add seconds to each worker's start for this module's two tests.

TRIPLES = [  # (question, answering sentence, other sentences, its paragraph)
    (
        "when did the bridge open",
        "Harbour. The bridge opened in 1932.",
        ("Harbour. Its arch is made of steel.", "Harbour. Ferries still cross."),
        1,
    ),
    (
        "who photographed the comet",
        "Comet. Astronomers in Chile photographed it.",
        ("Comet. It was seen in 2024.", "Comet. Its tail is long."),
        2,
    ),
    (
        "what is the arch made of",
        "Harbour. Its arch is made of steel.",
        ("Harbour. The bridge opened in 1932.", "Harbour. Ferries still cross."),
        1,
    ),
]


def triples() -> list:
    from training.encoder import Triple

    return [Triple(*fields) for fields in TRIPLES]


def tiny_encoder(vocab_size: int):
    import torch
    from transformers import AutoModel, BertConfig

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    return AutoModel.from_config(config)


def loss_of(model, tokenizer) -> float:
    import torch

    from training.encoder import SENTENCE_TOKENS, embed

    with torch.no_grad():
        questions = embed(model, tokenizer, [t.question for t in triples()], 32)
        sentences = embed(model, tokenizer, [t.positive for t in triples()], SENTENCE_TOKENS)
        logits = 20.0 * questions @ sentences.T
        return float(torch.nn.functional.cross_entropy(logits, torch.arange(len(TRIPLES))))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A tiny encoder trained a few steps on TRIPLES, its loss before, its tokenizer."""
    import torch
    from transformers import AutoTokenizer

    from training.encoder import train_epoch

    tokenizer = AutoTokenizer.from_pretrained(str(package_model_path()))
    model = tiny_encoder(tokenizer.vocab_size)
    before = loss_of(model, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(0)
    for _ in range(30):
        train_epoch(model, tokenizer, triples(), optimizer, rng, 3)
    return model, tokenizer, before


def test_a_few_steps_lower_the_loss_and_the_int8_export_reads_alike(
    trained: tuple, tmp_path: Path
) -> None:
    import torch

    from training.encoder import SENTENCE_TOKENS, embed, paragraph_accuracy
    from training.export import export

    model, tokenizer, before = trained
    assert loss_of(model, tokenizer) < 0.5 * before
    assert paragraph_accuracy(model, tokenizer, triples()) == 1.0

    model.save_pretrained(str(tmp_path / "encoder"))
    tokenizer.save_pretrained(str(tmp_path / "encoder"))
    agreement = export(tmp_path / "encoder", tmp_path / "reader")
    assert agreement["worst_probe_cosine"] > 0.98
    reader = SentenceReader(tmp_path / "reader")
    for triple in triples():
        candidates = [triple.positive, *triple.negatives]
        readings = reader.read(triple.question, candidates)
        with torch.no_grad():
            question = embed(model, tokenizer, [triple.question], 32)[0]
            trained = embed(model, tokenizer, candidates, SENTENCE_TOKENS) @ question
        assert readings.shape == (3, 2)
        assert np.allclose(readings[:, 0], trained.numpy(), atol=0.05)
        assert int(np.argmax(readings[:, 0])) == 0


def weighing(folder: Path, bias: float, threshold: float = 0.5) -> None:
    """A weighing that reads only the reader's closeness (weight 8) plus `bias`."""
    features = [*FEATURES, *READINGS]
    weights = [8.0 if name == "reader_closeness" else 0.0 for name in features]
    (folder / "weighing.json").write_text(
        json.dumps({"features": features, "weights": weights, "bias": bias, "threshold": threshold})
    )


def test_an_answerer_with_a_reader_dir_answers_and_abstains_by_its_weighing(
    trained: tuple, tmp_path: Path, fast_index_dir: Path, fast_embedder
) -> None:
    from training.export import export

    model, tokenizer, _ = trained
    model.save_pretrained(str(tmp_path / "encoder"))
    tokenizer.save_pretrained(str(tmp_path / "encoder"))
    folder = tmp_path / "reader"
    export(tmp_path / "encoder", folder)
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    question = "When was the International Space Station launched?"

    weighing(folder, bias=20.0)  # every sentence likely: the bot answers
    settings = load_settings(data_dir=tmp_path, reader_dir=folder)
    answerer = make_answerer(settings, index)
    found = answerer.candidates(question)
    reader = SentenceReader(folder)
    closeness = reader.read(found.question.text, found.texts())[:, 0]
    expected = 1 / (1 + np.exp(-(8.0 * closeness + 20.0)))
    assert np.allclose(answerer.weigh(found), expected, atol=1e-6)
    answer = answerer.answer(question)
    assert not answer.abstained and answer.confidence == pytest.approx(max(expected), abs=1e-6)
    assert answerer.threshold == 0.5

    weighing(folder, bias=-20.0)  # no sentence likely: the bot abstains
    answerer = make_answerer(load_settings(data_dir=tmp_path, reader_dir=folder), index)
    assert answerer.answer(question).abstained
    lowered = load_settings(data_dir=tmp_path, reader_dir=folder, min_score=0.0)
    assert not make_answerer(lowered, index).answer(question).abstained  # min_score wins
