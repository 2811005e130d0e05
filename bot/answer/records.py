"""What an answer is made of: the passages it cites and the answer itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from index.records import Article, Chunk

NOT_FOUND = "I couldn't find that in the articles."


def not_english(language: str) -> str:
    return (
        f"This question looks like {language}. The articles are in English, and I can only "
        "answer questions asked in English."
    )


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what a citation needs: its article and its score."""

    rank: int
    chunk: Chunk
    article: Article
    score: float
    cited: tuple[int, int] | None = None  # span of the quoted sentence within the chunk

    def quote(self, limit: int) -> str:
        """The passage, shortened to about `limit` characters around the cited
        sentence, cut at word boundaries, with an ellipsis wherever it was cut."""
        text = self.chunk.text
        if len(text) <= limit:
            return text.replace("\n\n", " ")
        start, end = self.cited or (0, 0)
        left = max(0, min(start - (limit - (end - start)) // 2, len(text) - limit))
        window = text[left : left + limit]
        if left > 0:
            window = "…" + window.split(" ", 1)[-1]
        if left + limit < len(text):
            window = window.rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
        return window.replace("\n\n", " ")

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "article": self.article.id,
            "title": self.article.title,
            "source": self.article.source,
            "published": self.article.published,
            "text": self.chunk.text,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    """The reply to one question. `abstained` means: not in the articles."""

    question: str
    text: str
    abstained: bool
    sources: list[Passage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    index_version: str = ""
    confidence: float = 0.0
    highlight: tuple[int, int] | None = None  # the part of `text` that answers, if one stands out
    read_as: str = ""  # the question as it was searched: spelt out, corrected, read in context

    def marked(self, mark: str, escape: Callable[[str], str] = str) -> str:
        """The answer text with the highlighted part between `mark`s (e.g. "**"),
        every piece passed through `escape` first."""
        if self.highlight is None:
            return escape(self.text)
        start, end = self.highlight
        before, part, after = self.text[:start], self.text[start:end], self.text[end:]
        return f"{escape(before)}{mark}{escape(part)}{mark}{escape(after)}"

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "sources": [
                {k: v for k, v in p.to_dict().items() if k != "rank"} for p in self.sources
            ],
            "notes": self.notes,
            "highlight": list(self.highlight) if self.highlight else None,
            "confidence": round(self.confidence, 4),
            "index_version": self.index_version,
        }


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"
