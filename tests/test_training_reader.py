"""The reader's training loop (training/reader.py) on a tiny encoder made here, not
the shipped weights: a few steps lower the loss, and a saved reader loads with the
same scores. Fast tier: the shipped tokenizer only."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, BertConfig

from training.reader import Example, Reader, evaluate, load, save, shipped_model_dir, train_epoch

EXAMPLES = [
    Example("when did the bridge open", "Harbour. [SEP] The bridge opened in 1932.", 1.0, 1),
    Example("when did the bridge open", "Harbour. [SEP] Its arch is made of steel.", 0.0, 1),
    Example(
        "who photographed the comet", "Comet. [SEP] Astronomers in Chile photographed it.", 1.0, 2
    ),
    Example("who photographed the comet", "Comet. [SEP] It was seen in 2024.", 0.0, 2),
    Example("what is the arch made of", "Harbour. [SEP] Its arch is made of steel.", 1.0, 1),
    Example("what is the arch made of", "Harbour. [SEP] The bridge opened in 1932.", 0.0, 1),
]


def tiny_reader(vocab_size: int) -> Reader:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    return Reader(AutoModel.from_config(config))


def test_a_few_steps_lower_the_loss_and_a_saved_reader_scores_the_same(tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(shipped_model_dir()))
    reader = tiny_reader(tokenizer.vocab_size)
    before = evaluate(reader, tokenizer, EXAMPLES, 8)["loss"]
    optimizer = torch.optim.AdamW(reader.parameters(), lr=3e-3)
    rng = random.Random(0)
    for _ in range(40):
        train_epoch(reader, tokenizer, EXAMPLES, optimizer, rng, 6)
    after = evaluate(reader, tokenizer, EXAMPLES, 8)
    assert after["loss"] < 0.5 * before and after["accuracy"] == 1.0
    save(reader, tokenizer, tmp_path / "reader")
    loaded, loaded_tokenizer = load(tmp_path / "reader")
    assert evaluate(loaded, loaded_tokenizer, EXAMPLES, 8) == after
