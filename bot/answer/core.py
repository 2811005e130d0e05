"""The answering core: a question in, a short answer with its sources out.

Platform-free: the command line, Discord and Slack all call `Answerer.answer`
and only format what comes back. Answers are extractive: every word of an
answer is a sentence of an indexed article, and every source is checked to
really contain the sentence it is cited for.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.answer.highlight import answer_span
from bot.errors import QuestionError
from index.articles import Article, normalise_text
from index.chunking import Chunk, sentence_spans
from index.embedding import Embedder
from index.store import ArticleIndex

WORD = re.compile(r"\w+", re.UNICODE)
QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "much",
        "many",
        "about",
        "according",
    ]
)
LATEST = re.compile(
    r"\b(latest|newest|most recent|recently|lately|today|this week|current news)\b", re.IGNORECASE
)
SECOND_SENTENCE_RATIO = 0.9
PASSAGES_FOR_ANSWER = 3


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


@dataclass(frozen=True)
class Question:
    text: str
    notes: list[str]


@dataclass(frozen=True)
class Retrieval:
    """How passages are found: see ArticleIndex.retrieve."""

    mode: str = "hybrid"
    fusion: str = "weighted"
    dense_weight: float = 0.7
    candidates: int = 30
    rerank_weight: float = 1.0
    rerank_depth: int = 20


@dataclass(frozen=True)
class ServedIndex:
    """The index being answered from, with term weights derived from it."""

    index: ArticleIndex
    idf: dict[str, float]
    unknown_idf: float
    recency: dict[str, float]
    sentence_terms: dict[str, list[tuple[int, int, frozenset[str]]]] = field(default_factory=dict)

    def weights(self, wanted: set[str]) -> dict[str, float]:
        """Each question term's share of the question, by inverse document frequency."""
        raw = {t: self.idf.get(t, self.unknown_idf) for t in wanted}
        total = sum(raw.values()) or 1.0
        return {t: w / total for t, w in raw.items()}


@dataclass(frozen=True)
class ScoredSentence:
    passage: Passage
    start: int
    end: int
    score: float
    terms: frozenset[str] | set[str] = frozenset()
    evidence: float = 0.0  # the score without any recency boost: what abstention looks at

    @property
    def text(self) -> str:
        return self.passage.chunk.text[self.start : self.end]


NOT_FOUND = "I couldn't find that in the articles."


def prepare_question(raw: str, max_chars: int) -> Question:
    """Clean a question; an empty one is refused, an over-long one shortened with a note."""
    text = " ".join(normalise_text(raw).split())
    if not text or not WORD.search(text):
        raise QuestionError("the question is empty; ask something about the articles")
    notes = []
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notes.append(
            f"Your question was long, so only its first {len(text):,} characters were used."
        )
    return Question(text, notes)


def recency_ranks(articles: dict[str, Article]) -> dict[str, float]:
    """By date rank: the newest dated article 1.0, the oldest 0.0, undated ones 0.0."""
    dates = sorted({a.published for a in articles.values() if a.published})
    rank = {d: i / (len(dates) - 1) if len(dates) > 1 else 1.0 for i, d in enumerate(dates)}
    return {a.id: rank.get(a.published or "", 0.0) for a in articles.values()}


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


class Terms:
    """Content words for lexical matching: lower-cased, stemmed, no stop or question words."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._stemmer = Stemmer.Stemmer("english")
        self._skip = frozenset(STOPWORDS_EN) | QUESTION_WORDS
        self._lock = threading.Lock()

    def __call__(self, text: str) -> set[str]:
        words = [w for w in WORD.findall(text.lower()) if w not in self._skip]
        words = [w[:-2] if w.endswith("'s") else w for w in words]
        with self._lock:  # PyStemmer objects are not thread-safe
            return set(self._stemmer.stemWords(words))


class Answerer:
    """Answers questions from one index version at a time; `use_index` swaps it."""

    def __init__(
        self,
        index: ArticleIndex,
        embedder: Embedder,
        *,
        top_k: int = 5,
        min_score: float = 0.5,
        lexical_weight: float = 0.75,
        recency_weight: float = 0.15,
        retrieval: Retrieval | None = None,
        answer_max_chars: int = 400,
        question_max_chars: int = 1000,
    ) -> None:
        self.embedder = embedder
        self.top_k = top_k
        self.min_score = min_score
        self.lexical_weight = lexical_weight
        self.recency_weight = recency_weight
        self.retrieval = retrieval or Retrieval()
        self.answer_max_chars = answer_max_chars
        self.question_max_chars = question_max_chars
        self._terms = Terms()
        self._served = self._serve(index)

    @property
    def index(self) -> ArticleIndex:
        return self._served.index

    def use_index(self, index: ArticleIndex) -> None:
        """Answer from `index` from now on; questions already running finish on the old one."""
        self._served = self._serve(index)

    def _serve(self, index: ArticleIndex) -> ServedIndex:
        """An index with the inverse document frequencies of its terms."""
        df: Counter[str] = Counter()
        for chunk in index.chunks:
            df.update(self._terms(chunk.text))
        n = max(1, len(index.chunks))
        idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        return ServedIndex(index, idf, math.log(1 + 2 * n), recency_ranks(index.articles))

    def search(
        self,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        rerank: bool = True,
    ) -> list[Passage]:
        """The passages that best match the question, best first (`mode`: dense,
        bm25 or hybrid; default from the settings; `rerank=False` for the plain
        retriever, as a baseline)."""
        return self._search(self._served, question, top_k, mode, rerank)

    def _search(
        self,
        served: ServedIndex,
        question: str,
        top_k: int | None,
        mode: str | None = None,
        rerank: bool = True,
    ) -> list[Passage]:
        """Retrieve, then rerank the candidates by how well their best sentence covers
        the question's words: the passage that holds the answer usually has one
        sentence that says most of what was asked."""
        index, retrieval = served.index, self.retrieval
        k = top_k or self.top_k
        rerank = rerank and retrieval.rerank_weight > 0
        depth = max(k, retrieval.rerank_depth) if rerank else k
        vector = self.embedder.encode([question])[0]
        found = index.retrieve(
            question,
            vector,
            depth,
            mode or retrieval.mode,
            fusion=retrieval.fusion,
            dense_weight=retrieval.dense_weight,
            candidates=retrieval.candidates,
        )
        if rerank:
            weights = served.weights(self._terms(question))
            found.sort(
                key=lambda f: (
                    f[2]
                    + retrieval.rerank_weight * self._coverage(served, index.chunks[f[0]], weights)
                ),
                reverse=True,
            )
        passages = []
        for rank, (position, cosine, _) in enumerate(found[:k], 1):
            chunk = index.chunks[position]
            passages.append(Passage(rank, chunk, index.articles[chunk.article_id], cosine))
        return passages

    def _sentences(
        self, served: ServedIndex, chunk: Chunk
    ) -> list[tuple[int, int, frozenset[str]]]:
        """(start, end, terms) of each sentence of a chunk, worked out once per index."""
        cached = served.sentence_terms.get(chunk.id)
        if cached is None:
            text = chunk.text
            cached = [
                (span.start, span.end, frozenset(self._terms(text[span.start : span.end])))
                for span in sentence_spans(text)
            ]
            served.sentence_terms[chunk.id] = cached
        return cached

    def _coverage(self, served: ServedIndex, chunk: Chunk, weights: dict[str, float]) -> float:
        """The largest share of the question's (IDF-weighted) words in one sentence."""
        sentences = self._sentences(served, chunk)
        return max(
            (sum(w for t, w in weights.items() if t in terms) for *_, terms in sentences),
            default=0.0,
        )

    def answer(self, question: str, top_k: int | None = None) -> Answer:
        """Answer with the best sentence(s) of the retrieved passages, or abstain.

        The evidence for a sentence is the dense score of its passage plus the
        IDF-weighted share of the question's content words it contains; below
        `min_score` (calibrated by bench/calibrate_threshold.py) the bot abstains.
        """
        prepared = prepare_question(question, self.question_max_chars)
        served = self._served
        version = served.index.version
        passages = self._search(served, prepared.text, top_k)
        if not passages:
            return Answer(prepared.text, NOT_FOUND, True, [], prepared.notes, version)
        boosts = {}
        if LATEST.search(prepared.text):  # "latest news": newer articles first
            boosts = {
                p.chunk.id: self.recency_weight * served.recency[p.article.id] for p in passages
            }
            passages = sorted(passages, key=lambda p: p.score + boosts[p.chunk.id], reverse=True)
        top = passages[:PASSAGES_FOR_ANSWER]
        chosen = self._choose_sentences(prepared.text, top, served, boosts)
        confidence = max(s.evidence for s in chosen)
        if confidence < self.min_score:
            return Answer(prepared.text, NOT_FOUND, True, [], prepared.notes, version, confidence)
        text = shorten(" ".join(s.text for s in chosen), self.answer_max_chars)
        sources = _cited_passages(chosen)
        span = answer_span(prepared.text, text)
        return Answer(
            prepared.text, text, False, sources, prepared.notes, version, confidence, span
        )

    def _choose_sentences(
        self,
        question: str,
        passages: list[Passage],
        served: ServedIndex,
        boosts: dict[str, float],
    ) -> list[ScoredSentence]:
        """The best sentence, plus the runner-up when it scores almost as well and
        covers question words the best one lacks."""
        weights = served.weights(self._terms(question))
        scored = []
        for passage in passages:
            for start, end, terms in self._sentences(served, passage.chunk):
                found = terms & weights.keys()
                lexical = sum(weights[t] for t in found)
                evidence = passage.score + self.lexical_weight * lexical
                score = evidence + boosts.get(passage.chunk.id, 0.0)
                scored.append(ScoredSentence(passage, start, end, score, found, evidence))
        scored.sort(key=lambda s: s.score, reverse=True)
        best = scored[0]
        chosen = [best]
        for other in scored[1:2]:
            fits = len(best.text) + len(other.text) + 1 <= self.answer_max_chars
            adds = bool(other.terms - best.terms) and other.text != best.text
            if fits and adds and other.score >= SECOND_SENTENCE_RATIO * best.score:
                chosen.append(other)
        return sorted(chosen, key=lambda s: (s.passage.rank, s.start))


def _cited_passages(chosen: list[ScoredSentence]) -> list[Passage]:
    """The passages the answer quotes, each verified to contain its sentence."""
    sources: dict[str, Passage] = {}
    for sentence in chosen:
        passage = sentence.passage
        chunk, article = passage.chunk, passage.article
        if article.text[chunk.start : chunk.end] != chunk.text or sentence.text not in chunk.text:
            raise AssertionError(f"citation check failed for {chunk.id}")
        if chunk.id not in sources:
            sources[chunk.id] = replace(passage, cited=(sentence.start, sentence.end))
    return list(sources.values())
