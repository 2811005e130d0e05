"""The records every stage of the index shares: an article, a passage of it (a
chunk), a character span, a source that failed to load, and the content hash
that says whether an article changed. They live here, below every stage, so no
import runs back up from storage or build to sources."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One cleaned article: the unit an operator adds, updates and removes."""

    id: str
    title: str
    text: str
    source: str
    published: str | None = None
    content_hash: str = ""

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "content_hash": self.content_hash,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Article:
        return cls(
            id=data["id"],
            title=data["title"],
            text=data["text"],
            source=data["source"],
            published=data.get("published"),
            content_hash=data["content_hash"],
        )


@dataclass(frozen=True)
class LoadFailure:
    """A source that could not be loaded, and why, in words an operator can act on."""

    source: str
    reason: str


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: the unit that is embedded, retrieved and quoted."""

    id: str
    article_id: str
    start: int
    end: int
    text: str
    position: int = field(default=-1, compare=False)  # in its loaded version; -1 until then

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "article_id": self.article_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: dict, position: int = -1) -> Chunk:
        return cls(
            data["id"], data["article_id"], data["start"], data["end"], data["text"], position
        )


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n\n{text}".encode()).hexdigest()
