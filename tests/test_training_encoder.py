"""The sentence reader's training (training/encoder.py) and export
(training/export.py) on a tiny encoder made here, not the shipped weights: a few
steps lower the loss and rank each answering sentence first, and the int8 ONNX
export reads as the trained model does, without torch (bot/answer/reader.py).
Fast tier: the shipped tokenizer only."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, BertConfig

from bot.answer.reader import SentenceReader
from training.encoder import (
    SENTENCE_TOKENS,
    Triple,
    embed,
    paragraph_accuracy,
    shipped_model_dir,
    train_epoch,
)
from training.export import export

TRIPLES = [
    Triple(
        "when did the bridge open",
        "Harbour. The bridge opened in 1932.",
        ("Harbour. Its arch is made of steel.", "Harbour. Ferries still cross."),
        1,
    ),
    Triple(
        "who photographed the comet",
        "Comet. Astronomers in Chile photographed it.",
        ("Comet. It was seen in 2024.", "Comet. Its tail is long."),
        2,
    ),
    Triple(
        "what is the arch made of",
        "Harbour. Its arch is made of steel.",
        ("Harbour. The bridge opened in 1932.", "Harbour. Ferries still cross."),
        1,
    ),
]


def tiny_encoder(vocab_size: int):
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
    with torch.no_grad():
        questions = embed(model, tokenizer, [t.question for t in TRIPLES], 32)
        sentences = embed(model, tokenizer, [t.positive for t in TRIPLES], SENTENCE_TOKENS)
        logits = 20.0 * questions @ sentences.T
        return float(torch.nn.functional.cross_entropy(logits, torch.arange(len(TRIPLES))))


def test_a_few_steps_lower_the_loss_and_the_int8_export_reads_alike(tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(shipped_model_dir()))
    model = tiny_encoder(tokenizer.vocab_size)
    before = loss_of(model, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(0)
    for _ in range(30):
        train_epoch(model, tokenizer, TRIPLES, optimizer, rng, 3)
    assert loss_of(model, tokenizer) < 0.5 * before
    assert paragraph_accuracy(model, tokenizer, TRIPLES) == 1.0

    model.save_pretrained(str(tmp_path / "encoder"))
    tokenizer.save_pretrained(str(tmp_path / "encoder"))
    agreement = export(tmp_path / "encoder", tmp_path / "reader")
    assert agreement["worst_probe_cosine"] > 0.98
    reader = SentenceReader(tmp_path / "reader")
    for triple in TRIPLES:
        candidates = [triple.positive, *triple.negatives]
        readings = reader.read(triple.question, candidates)
        with torch.no_grad():
            question = embed(model, tokenizer, [triple.question], 32)[0]
            trained = embed(model, tokenizer, candidates, SENTENCE_TOKENS) @ question
        assert readings.shape == (3, 2)
        assert np.allclose(readings[:, 0], trained.numpy(), atol=0.05)
        assert int(np.argmax(readings[:, 0])) == 0
