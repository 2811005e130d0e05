"""Fine-tunes the shipped all-MiniLM-L6-v2 encoder for question-to-sentence
closeness: the sentence reader. A question and the sentence that answers it are
pulled together, the other sentences of its paragraph and the other questions'
sentences in the batch pushed apart (in-batch negatives with one hard negative
each, the loss sentence-transformers calls MultipleNegativesRankingLoss). Every
answerable training question comes twice, as SQuAD words it and as typed in chat
(training/data.py), so the model learns meaning beyond shared words.

    python -m training.encoder PAIRS.jsonl OUT_DIR [--epochs 1] [--validation-fold 0]

Writes OUT_DIR (the tuned encoder and its tokenizer, as transformers saves them)
and prints each epoch's training loss and validation figures as JSON lines: on
the held-out fold's questions, how often the answering sentence is the closest
of its paragraph.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from index.embedding.embedder import package_model_path

QUESTION_TOKENS = 48
SENTENCE_TOKENS = 96
SCALE = 20.0  # cosines times this are the logits (sentence-transformers' default)


def sentence_text(title: str, sentence: str) -> str:
    """What the reader embeds for a candidate sentence: the article's title names what
    its pronouns are about. The same in training and wherever it scores."""
    return f"{title}. {sentence}"


@dataclass(frozen=True)
class Triple:
    """A question, the sentence that answers it, and its paragraph's other sentences."""

    question: str
    positive: str
    negatives: tuple[str, ...]
    fold: int


def read_triples(path: Path) -> list[Triple]:
    """The answerable questions of training/data.py's pairs, one per wording."""
    grouped: dict[tuple[str, str], dict] = {}
    for line in path.open(encoding="utf-8"):
        row = json.loads(line)
        if row["kind"] not in ("answer", "paragraph"):
            continue
        key = (row["question_id"], row["wording"])
        entry = grouped.setdefault(key, {"row": row, "pos": [], "neg": []})
        text = sentence_text(row["title"], row["sentence"])
        entry["pos" if row["label"] else "neg"].append(text)
    return [
        Triple(e["row"]["question"], e["pos"][0], tuple(e["neg"]), int(e["row"]["fold"]))
        for e in grouped.values()
        if e["pos"]
    ]


def embed(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], limit: int
) -> torch.Tensor:
    """Unit-length mean-pooled vectors, as the shipped model makes them."""
    batch = tokenizer(texts, truncation=True, max_length=limit, padding=True, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    return nn.functional.normalize(pooled, dim=-1)


def batches(items: Sequence[Triple], size: int, rng: random.Random) -> Iterator[list[Triple]]:
    order = list(range(len(items)))
    rng.shuffle(order)
    for start in range(0, len(order), size):
        yield [items[i] for i in order[start : start + size]]


def train_epoch(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    triples: list[Triple],
    optimizer: torch.optim.Optimizer,
    rng: random.Random,
    batch_size: int,
) -> float:
    """One pass: each question against every positive and hard negative of its batch."""
    model.train()
    loss_of = nn.CrossEntropyLoss()
    total, count = 0.0, 0
    for batch in batches(triples, batch_size, rng):
        hard = [rng.choice(t.negatives) for t in batch if t.negatives]
        questions = embed(model, tokenizer, [t.question for t in batch], QUESTION_TOKENS)
        sentences = embed(model, tokenizer, [t.positive for t in batch] + hard, SENTENCE_TOKENS)
        logits = SCALE * questions @ sentences.T
        loss = loss_of(logits, torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(batch), count + len(batch)
    return total / max(count, 1)


@torch.no_grad()
def paragraph_accuracy(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, triples: list[Triple]
) -> float:
    """How often the answering sentence is the closest of its paragraph's sentences."""
    model.eval()
    right = 0
    for t in triples:
        question = embed(model, tokenizer, [t.question], QUESTION_TOKENS)
        sentences = embed(model, tokenizer, [t.positive, *t.negatives], SENTENCE_TOKENS)
        right += int(torch.argmax(sentences @ question[0]) == 0)
    return right / max(len(triples), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--validation-fold", type=int, default=0)
    parser.add_argument("--validation-questions", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--max-questions", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    triples = read_triples(options.pairs)
    held = [t for t in triples if t.fold == options.validation_fold]
    train = [t for t in triples if t.fold != options.validation_fold]
    held = rng.sample(held, min(options.validation_questions, len(held)))
    if options.max_questions is not None:
        train = rng.sample(train, min(options.max_questions, len(train)))
    start = str(package_model_path())
    tokenizer = AutoTokenizer.from_pretrained(start)
    model = AutoModel.from_pretrained(start)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    figures = {"epoch": 0, "validation_top1": paragraph_accuracy(model, tokenizer, held)}
    print(json.dumps(figures), flush=True)
    for epoch in range(1, options.epochs + 1):
        loss = train_epoch(model, tokenizer, train, optimizer, rng, options.batch_size)
        accuracy = paragraph_accuracy(model, tokenizer, held)
        print(json.dumps({"epoch": epoch, "train_loss": loss, "validation_top1": accuracy}))
        model.save_pretrained(str(options.out))
        tokenizer.save_pretrained(str(options.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
