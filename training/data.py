"""Question-and-sentence pairs for a reader that decides which sentence answers a
question and when none does, built only from the articles `split.json` marks
`train` (the rest, ontopic-dev and the bundled article are where quality is
measured).

Each pair is a question, one candidate sentence with the sentence before it and the
article's title as context, and a label: 1 when the sentence holds a gold answer's
start. Negatives are the other sentences of the question's paragraph, every
sentence of the paragraph for SQuAD 2.0's unanswerable questions, and every
sentence of it for questions made unanswerable here: a name, year or number of an
answerable question swapped for one from another training article that this
article never mentions, so that abstention is learned rather than guessed. Each
answerable question also comes once more as people type it in chat (lower case,
a shared word dropped, a typo), with the same labels.

    python -m training.data OUT.jsonl [--shared ../shared] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

from bm25s.stopwords import STOPWORDS_EN

from bot.answer.signals import question_names
from index.sentence_split import sentence_spans
from index.storage.terms import QUESTION_WORDS

SETS = ("squad-v1.1-dev", "squad-v2.0-dev-half")
QUESTION_FILES = {"squad-v1.1-dev": "questions-all.jsonl", "squad-v2.0-dev-half": "questions.jsonl"}
YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
WORD = re.compile(r"[\w'-]+")
STOPWORDS = frozenset(STOPWORDS_EN) | QUESTION_WORDS
FOLDS = 5


@dataclass(frozen=True)
class SquadQuestion:
    """A SQuAD question on one article: where its paragraph and gold answers start."""

    id: str
    article: str
    text: str
    answer_starts: tuple[int, ...]
    paragraph: int  # index of its paragraph (blank-line separated) in the article file
    answerable: bool


@dataclass(frozen=True)
class Pair:
    """One training example for the reader; `kind` says where its label comes from."""

    question_id: str
    article: str
    question: str
    title: str
    previous: str
    sentence: str
    label: int
    kind: str  # "answer", "paragraph", "unanswerable", "swapped"
    fold: int  # the article's fold, for article-level validation
    wording: str = "squad"  # or "chat": the question reworded as people type it


def train_articles(shared: Path) -> dict[str, set[str]]:
    """{question set: the article names (file stems) a model may be fitted on}."""
    split = json.loads((shared / "train" / "split.json").read_text(encoding="utf-8"))
    return {name: set(split[name]["train"]) for name in SETS if name in split}


def fold_of(article: str) -> int:
    """The article's fold: the same on every machine and in every run."""
    return zlib.crc32(article.encode()) % FOLDS


def load_questions(path: Path, articles: set[str]) -> list[SquadQuestion]:
    """The questions of `path` on `articles` only."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["article"] not in articles:
            continue
        questions.append(
            SquadQuestion(
                id=row["id"],
                article=row["article"],
                text=row["question"],
                answer_starts=tuple(row.get("answer_starts") or ()),
                paragraph=row["context_paragraph_index"],
                answerable=bool(row.get("answers")) and not row.get("is_impossible", False),
            )
        )
    return questions


@dataclass(frozen=True)
class SquadArticle:
    """An article file: its title and its sentences, as (start, end) spans, by paragraph."""

    name: str
    title: str
    text: str
    paragraphs: list[list[tuple[int, int]]]

    @cached_property
    def folded(self) -> str:
        """The text case-folded once, for looking names up in it."""
        return self.text.casefold()

    @classmethod
    def read(cls, path: Path) -> SquadArticle:
        text = path.read_text(encoding="utf-8")
        paragraphs: list[list[tuple[int, int]]] = []
        offset = 0
        for block in text.split("\n\n"):
            spans = [(offset + s.start, offset + s.end) for s in sentence_spans(block)]
            if block.strip():
                paragraphs.append(spans)
            offset += len(block) + 2
        title = path.stem.split("-", 1)[-1].replace("_", " ")
        return cls(path.stem, title, text, paragraphs)


def chat_style(question: SquadQuestion, article: SquadArticle, rng: random.Random) -> SquadQuestion:
    """The question as people type it in chat, so that a model learns more than word
    matching (SQuAD's questions copy their answer sentence's words): lower case, one
    word it shares with its paragraph dropped, and one typo in a longer word."""
    paragraph = " ".join(article.text[s:e] for s, e in article.paragraphs[question.paragraph])
    shared = set(WORD.findall(paragraph.casefold())) - STOPWORDS
    words = question.text.rstrip("?").casefold().split()
    content = [i for i, w in enumerate(words) if w not in STOPWORDS]
    droppable = [i for i in content if words[i] in shared]
    # one shared word dropped, and only where two words of substance stay
    dropped = {rng.choice(droppable)} if droppable and len(content) >= 3 else set()
    words = [w for i, w in enumerate(words) if i not in dropped]
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if long:
        i = rng.choice(long)
        cut = rng.randrange(1, len(words[i]) - 1)
        words[i] = words[i][:cut] + words[i][cut + 1 :]  # one letter left out
    return replace(question, id=f"{question.id}:chat", text=" ".join(words))


def pairs_for(
    question: SquadQuestion, article: SquadArticle, kind: str | None = None
) -> Iterator[Pair]:
    """Every sentence of the question's paragraph as a pair, labelled 1 where a gold
    answer starts; `kind` names the pairs of a question made unanswerable here."""
    spans = article.paragraphs[question.paragraph]
    for n, (start, end) in enumerate(spans):
        holds = any(start <= a < end for a in question.answer_starts)
        label = int(holds)  # a question made unanswerable carries no answer starts
        yield Pair(
            question_id=question.id,
            article=article.name,
            question=question.text,
            title=article.title,
            previous=article.text[slice(*spans[n - 1])] if n else "",
            sentence=article.text[start:end],
            label=label,
            kind=kind
            or ("answer" if label else "paragraph" if question.answerable else "unanswerable"),
            fold=fold_of(article.name),
            wording="chat" if question.id.endswith(":chat") else "squad",
        )


@dataclass(frozen=True)
class Foreign:
    """Names and years that other training articles' questions and texts hold and
    this article never mentions: what a swapped question brings in."""

    names: list[str]
    years: list[str]

    @classmethod
    def of(cls, article: SquadArticle, names: Iterable[str], years: Iterable[str]) -> Foreign:
        return cls(
            sorted({n for n in names if n.casefold() not in article.folded}),
            sorted({y for y in years if y not in article.text}),
        )


def swapped(
    question: SquadQuestion, article: SquadArticle, foreign: Foreign, rng: random.Random
) -> SquadQuestion | None:
    """The question with one of its names (or else a year) swapped for a foreign one,
    or None when it has neither."""
    own = [n for n in question_names(question.text) if n.casefold() in article.folded]
    if own and foreign.names:
        text = question.text.replace(rng.choice(own), rng.choice(foreign.names), 1)
    elif (found := YEAR.findall(question.text)) and foreign.years:
        text = question.text.replace(rng.choice(found), rng.choice(foreign.years), 1)
    else:
        return None
    return SquadQuestion(
        f"{question.id}:swapped", question.article, text, (), question.paragraph, False
    )


def build(shared: Path, seed: int = 0) -> Iterator[Pair]:
    """Every pair of the training articles, in a fixed order for a given seed."""
    rng = random.Random(seed)
    for name, allowed in train_articles(shared).items():
        folder = shared / "eval" / name
        questions = load_questions(folder / QUESTION_FILES[name], allowed)
        articles = {a: SquadArticle.read(folder / "articles" / f"{a}.txt") for a in sorted(allowed)}
        foreign = _foreign(articles, questions)
        for question in questions:
            article = articles[question.article]
            yield from pairs_for(question, article)
            if not question.answerable:
                continue
            yield from pairs_for(chat_style(question, article, rng), article)
            if made := swapped(question, article, foreign[article.name], rng):
                yield from pairs_for(made, article, kind="swapped")


def _foreign(
    articles: dict[str, SquadArticle], questions: list[SquadQuestion]
) -> dict[str, Foreign]:
    """Each article's Foreign, from the names asked about and years written elsewhere."""
    names: dict[str, set[str]] = {a: set() for a in articles}
    for question in questions:
        names[question.article].update(question_names(question.text))
    years = {a: set(YEAR.findall(article.text)) for a, article in articles.items()}
    return {
        a: Foreign.of(
            article,
            (n for other in articles if other != a for n in names[other]),
            (y for other in articles if other != a for y in years[other]),
        )
        for a, article in articles.items()
    }


def training_questions(shared: Path, seed: int = 0) -> dict[str, list[dict]]:
    """Per SQuAD set, the questions on its `train` articles in the eval format, each
    answerable one once more as typed in chat (`chat_style`), in a row that keeps its id
    and says "wording": "chat"."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {}
    for name, allowed in train_articles(shared).items():
        folder = shared / "eval" / name
        rows = [json.loads(line) for line in (folder / QUESTION_FILES[name]).open(encoding="utf-8")]
        articles: dict[str, SquadArticle] = {}
        kept = []
        for row in rows:
            if row["article"] not in allowed:
                continue
            row = {**row, "answerable": bool(row.get("answers")) and not row.get("is_impossible")}
            kept.append(row)
            if row["answerable"]:
                article = articles.get(row["article"]) or SquadArticle.read(
                    folder / "articles" / f"{row['article']}.txt"
                )
                articles[row["article"]] = article
                question = SquadQuestion(
                    row["id"],
                    row["article"],
                    row["question"],
                    (),
                    row["context_paragraph_index"],
                    True,
                )
                chat = chat_style(question, article, rng).text
                kept.append({**row, "question": chat, "wording": "chat"})
        out[name] = kept
    return out


def command_line(doc: str) -> argparse.ArgumentParser:
    """A training command's parser, described by its module's first paragraph, with
    the option every one of them takes: `--shared`, the shared data (by default
    ../shared beside the checkout, as the README lays it out)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    counts: dict[str, int] = {}
    with options.out.open("w", encoding="utf-8") as out:
        for pair in build(options.shared, options.seed):
            out.write(json.dumps(asdict(pair)) + "\n")
            counts[pair.kind] = counts.get(pair.kind, 0) + 1
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
