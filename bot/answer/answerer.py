"""The answering core: a question in, a short answer with its sources out.

Platform-free: the command line, Discord and Slack all call `Answerer.answer`
and only format what comes back. A question's passages are retrieved once
(index/retrieval.py); the answer is the best sentence(s) of the best passages,
or "not in the articles" when the evidence is too weak. Every word of an
extractive answer is a sentence of an indexed article, and every source is
checked to really contain the sentence it is cited for. An optional writer
(bot/answer/generation.py) may reword the answer from the same passages.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Protocol

import numpy as np

from bot.answer.config import AnswerConfig
from bot.answer.followup import Conversation, read_in_context
from bot.answer.highlight import answer_span, asks_yes_or_no, typed_spans
from bot.answer.intent import list_request, summary_request
from bot.answer.language import other_language
from bot.answer.question import prepare_question
from bot.answer.reader import Reader, sentence_text
from bot.answer.records import NOT_FOUND, Answer, Passage, not_english, shorten
from bot.answer.rerank import REFERS_BACK, Reranker, reranked_text
from bot.answer.signals import FEATURES, Question, features
from bot.answer.summary import article_list_answer, summary_answer
from index.config import RetrievalConfig, RetrievalMode
from index.retrieval import Retriever, Sentence, Terms, share
from index.storage.article_index import ArticleIndex
from index.storage.lexicon import rewrite

LATEST = re.compile(
    r"\b(latest|newest|most recent|recently|lately|today|this week|current news)\b", re.IGNORECASE
)
# a request for the latest news on a subject ("the latest on the bridge?", "what's new
# with the bridge?"), which a passage near the subject answers; not a question that
# merely says "today" or "the latest Super Bowl"
NEWS_ON = re.compile(
    r"\b(?:latest|newest|most recent)(?:\s+(?:news|updates?|developments?|reports?|word))?"
    r"\s+(?:on|about|with|from|for|regarding|concerning)\b"
    r"|\bwhat(?:'s|s| is) new\s+(?:on|about|with|from|for|regarding|concerning)\b",
    re.IGNORECASE,
)
SECOND_SENTENCE_RATIO = 0.9
# the kinds an answer must hold to answer at all: a year or a count is there or not, where
# a capitalised word may or may not name the person or place asked for
COUNTED_KINDS = ("date", "number")
# a yes-or-no question is answered only by a sentence that holds this much of its
# (IDF-weighted) wording: on the train articles' yes-or-no questions, every right answer
# held 0.34 or more, and 10 of 33 answers to ones the articles do not answer held less
YES_OR_NO_SAID = 0.3
EVIDENCE_MIN_SCORE = 0.628  # the default threshold of the hand-weighted evidence
PASSAGES_FOR_ANSWER = 3
BM25_THREADS = 4  # questions whose BM25 can run beside their embedding at once


class AnswerWriter(Protocol):
    """Rewords an extractive answer from the passages retrieved for it, or returns
    it as it is (bot/answer/generation.py)."""

    def write(self, answer: Answer, passages: list[Passage]) -> Answer: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Asked:
    """The question as the core answers it, and the notes that say how it was read."""

    text: str
    notes: list[str]


@dataclass(frozen=True)
class Served:
    """The index being answered from, with what is derived from it once."""

    index: ArticleIndex
    retriever: Retriever

    @cached_property
    def recency(self) -> dict[str, float]:
        """Each article's date rank: counted when a question first asks for the
        latest news, not on every load (0.4 s of opening a million passages)."""
        return recency_ranks(self.index.manifest.articles)


@dataclass(frozen=True)
class Candidates:
    """The sentences an answer is chosen from (those of the best passages) and the
    hand-made features of each (bot/answer/signals.py), a row per sentence."""

    question: Question
    sentences: list[tuple[Passage, Sentence]]
    values: np.ndarray

    def holds_kind(self) -> np.ndarray:
        """Per candidate, whether it holds something of the kind the question asks for."""
        return self.values[:, FEATURES.index("kind_found")] > 0

    def sentence_texts(self) -> list[str]:
        """Each sentence's text."""
        return [p.chunk.text[s.start : s.end] for p, s in self.sentences]

    def before(self, i: int) -> int | None:
        """The candidate that is the sentence before candidate `i` in its passage (a
        passage's sentences are candidates in their order), None for its first."""
        return i - 1 if i and self.sentences[i - 1][0] is self.sentences[i][0] else None

    def in_context(self) -> list[str]:
        """Each sentence as the reranker reads it: after its article's title, and
        after the sentence before it when it opens by pointing back ("It was first
        established in 1988", read after the sentence that names the IPCC)."""
        texts = self.sentence_texts()
        return [
            reranked_text(
                p.article.title, None if (j := self.before(i)) is None else texts[j], texts[i]
            )
            for i, (p, _) in enumerate(self.sentences)
        ]

    def texts(self) -> list[str]:
        """Each sentence as the reader reads it (with its article's title)."""
        return [
            sentence_text(p.article.title, text)
            for (p, _), text in zip(self.sentences, self.sentence_texts(), strict=True)
        ]


@dataclass(frozen=True)
class ScoredSentence:
    passage: Passage
    start: int
    end: int
    score: float
    terms: frozenset[int] = frozenset()  # term keys
    evidence: float = 0.0  # the score without any recency boost: what abstention looks at
    context: bool = False  # quoted for what the sentence after it points back to

    @property
    def text(self) -> str:
        return self.passage.chunk.text[self.start : self.end]


def recency_ranks(articles: list[dict]) -> dict[str, float]:
    """By date rank: the newest dated article 1.0, the oldest 0.0, undated ones 0.0
    (`articles`: the manifest's entries, which hold each one's date)."""
    dates = sorted({a.get("published") for a in articles if a.get("published")})
    rank = {d: i / (len(dates) - 1) if len(dates) > 1 else 1.0 for i, d in enumerate(dates)}
    return {a["id"]: rank.get(a.get("published") or "", 0.0) for a in articles}


class Answerer:
    """Answers questions from one index version at a time; `use_index` swaps it."""

    def __init__(
        self,
        index: ArticleIndex,
        config: AnswerConfig,
        retrieval: RetrievalConfig,
        writer: AnswerWriter | None = None,
        reader: Reader | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.config = config
        self.retrieval = retrieval
        self.writer = writer
        self.reader = reader
        self.reranker = reranker
        self._terms = Terms()
        # BM25 runs here while the question is embedded (index/retrieval.py)
        self._pool = ThreadPoolExecutor(BM25_THREADS, thread_name_prefix="articlebot-bm25")
        self._served = self._serve(index)

    @property
    def index(self) -> ArticleIndex:
        return self._served.index

    def use_index(self, index: ArticleIndex) -> None:
        """Answer from `index` from now on; questions already running finish on the old one."""
        self._served = self._serve(index)

    def _serve(self, index: ArticleIndex) -> Served:
        return Served(index, Retriever(index, self.retrieval, self._terms, self._pool))

    @property
    def threshold(self) -> float:
        """The confidence below which the bot abstains: `min_score` when set, else the
        trained reader's chosen probability, else the hand-weighted evidence's default."""
        if self.config.min_score is not None:
            return self.config.min_score
        return self.reader.weighing.threshold if self.reader else EVIDENCE_MIN_SCORE

    def search(
        self,
        question: str,
        top_k: int | None = None,
        mode: RetrievalMode | str | None = None,
        rerank: bool = True,
    ) -> list[Passage]:
        """The passages that best match the question as answers read it (abbreviations
        spelled out, typos corrected), best first (`mode`: dense, bm25 or hybrid;
        default from the settings; `rerank=False` for the plain retriever, as a
        baseline)."""
        served = self._served
        asked = self._rewrite(served.index, question)
        return self._passages(served, asked.text, top_k or self.config.top_k, mode, rerank)[0]

    @staticmethod
    def _passages(
        served: Served,
        question: str,
        k: int,
        mode: RetrievalMode | str | None = None,
        rerank: bool = True,
    ) -> tuple[list[Passage], np.ndarray]:
        """The passages for the question, and its vector."""
        hits, vector = served.retriever.search(question, k, mode, rerank)
        articles = served.index.articles
        passages = [
            Passage(rank, hit.chunk, articles[hit.chunk.article_id], hit.cosine)
            for rank, hit in enumerate(hits, 1)
        ]
        return passages, vector

    def answer(
        self,
        question: str,
        top_k: int | None = None,
        conversation: Conversation | None = None,
    ) -> Answer:
        """Answer with the best sentence(s) of the retrieved passages, or abstain.

        Each sentence of the best passages is weighed by its evidence (`evidence`,
        bot/answer/signals.py); below `min_score` (a point on the trade-off curve
        `articlebot eval` prints) the bot abstains. In a `conversation`, a follow-up
        is read with the question before it, and the articles already cited are
        preferred (bot/answer/followup.py).
        """
        config = self.config
        prepared = prepare_question(question, config.question_max_chars)
        served = self._served
        version = served.index.version
        unanswered = Answer(prepared.text, "", False, notes=prepared.notes, index_version=version)
        if list_request(prepared.text):
            return article_list_answer(served.index, unanswered)
        if (request := summary_request(prepared.text)) is not None:
            return summary_answer(
                served.index, request, unanswered, conversation, partial(self._find, served)
            )
        if language := other_language(prepared.text):
            return Answer(prepared.text, not_english(language), True, [], prepared.notes, version)
        asked = self._rewrite(served.index, prepared.text)
        notes = prepared.notes + asked.notes
        read = read_in_context(asked.text, conversation, self._terms)
        passages, vector = self._passages(served, read, top_k or config.top_k)
        if not passages:
            return Answer(prepared.text, NOT_FOUND, True, [], notes, version, read_as=read)
        boosts = self._boosts(served, passages, read, conversation)
        ranked = passages  # in the retriever's order, unless something is preferred
        if any(boosts.values()):
            ranked = sorted(passages, key=lambda p: p.score + boosts[p.chunk.id], reverse=True)
        question_signals = Question.of(read, vector, served.retriever)
        found = self._candidates(question_signals, ranked[:PASSAGES_FOR_ANSWER], served.retriever)
        chosen, confidence = self._choose_sentences(found, boosts)
        if confidence < self.threshold:
            return Answer(
                prepared.text, NOT_FOUND, True, [], notes, version, confidence, read_as=read
            )
        quoted = [s.text for s in chosen]
        text = shorten(" ".join(quoted), config.answer_max_chars)
        span = answer_span(asked.text, quoted, [not s.context for s in chosen])
        span = span if span and span[1] <= len(text.removesuffix("…")) else None
        answer = Answer(
            prepared.text,
            text,
            False,
            _cited_passages(chosen),
            notes,
            version,
            confidence,
            span,
            read,
        )
        return self.writer.write(answer, passages) if self.writer else answer

    def _boosts(
        self,
        served: Served,
        passages: list[Passage],
        question: str,
        conversation: Conversation | None,
    ) -> dict[str, float]:
        """What ranks a passage higher without adding to its evidence: newer articles
        for "latest news", and in a conversation the articles it already cited."""
        config = self.config
        newest = LATEST.search(question) is not None
        cited = conversation.article_ids if conversation else frozenset()
        return {
            p.chunk.id: (config.recency_weight * served.recency[p.article.id] if newest else 0.0)
            + config.followup_article_weight * (p.article.id in cited)
            for p in passages
        }

    def _find(self, served: Served, words: str) -> list[Passage]:
        """The best passage for a few words (as a question reads them), for naming an
        article."""
        return self._passages(served, self._rewrite(served.index, words).text, 1)[0]

    @staticmethod
    def _rewrite(index: ArticleIndex, question: str) -> Asked:
        """The question as answered: abbreviations the articles spell out are spelled
        out, misspelt words corrected to the articles' own (with a note saying so)."""
        rewritten = rewrite(question, index.lexicon, index.encoder.embedder.english_words)
        notes = (
            ["I read " + ", ".join(f"“{a}” as “{b}”" for a, b in rewritten.corrected) + "."]
            if rewritten.corrected
            else []
        )
        return Asked(rewritten.text, notes)

    def candidates(self, question: str) -> Candidates:
        """The sentences an answer to `question` (alone, not in a conversation) is
        chosen from, with their features: what the reader's weighing is fitted on."""
        served = self._served
        prepared = prepare_question(question, self.config.question_max_chars)
        asked = self._rewrite(served.index, prepared.text)
        passages, vector = self._passages(served, asked.text, self.config.top_k)
        question_signals = Question.of(asked.text, vector, served.retriever)
        return self._candidates(question_signals, passages[:PASSAGES_FOR_ANSWER], served.retriever)

    @staticmethod
    def _candidates(
        question: Question, passages: list[Passage], retriever: Retriever
    ) -> Candidates:
        found, rows = [], []
        for passage in passages:
            sentences = retriever.sentences(passage.chunk)
            for previous, sentence in zip([None, *sentences], sentences, strict=False):
                found.append((passage, sentence))
                rows.append(features(question, passage, sentence, previous))
        values = np.array(rows, dtype=np.float64).reshape(len(found), len(FEATURES))
        return Candidates(question, found, values)

    def weigh(self, candidates: Candidates) -> np.ndarray:
        """How strongly each candidate answers: the trained reader's probability, or
        without one the hand-weighted evidence; what abstention compares with
        `threshold` is `_confidence`."""
        if not candidates.sentences:
            return np.zeros(0)
        if self.reader is not None:
            texts = candidates.texts()
            return self.reader.evidence(candidates.question.text, texts, candidates.values)
        return candidates.values @ self.evidence_weights()

    def evidence_weights(self) -> np.ndarray:
        """The hand-made features' weights, as the settings say (fitted by
        bench/answer_features.py): passage cosine, sentence cosine, word share, answer
        kind, unknown names and missing numbers (these two subtracted), and the word
        share the sentence before adds."""
        config = self.config
        return np.array(
            [
                1.0,
                config.sentence_weight,
                config.lexical_weight,
                config.answer_kind_weight,
                -config.unknown_name_penalty,
                -config.missing_number_penalty,
                config.context_weight,
            ]
        )

    def _choose_sentences(
        self, candidates: Candidates, boosts: dict[str, float]
    ) -> tuple[list[ScoredSentence], float]:
        """The best sentence, plus the runner-up when it scores almost as well and
        covers question words the best one lacks, or holds the date, number, person or
        place asked for that the best one lacks; or else its neighbour that holds it
        ("The Orchard Festival returns …" then "It was first held in 1987 …"). A
        chosen sentence that opens by pointing back comes with the one before it.

        With the confidence (`_confidence`): the best evidence of any candidate by
        itself, whichever sentence the reranker or a preference (newer articles, the
        thread's) puts first, less `missing_kind_penalty` when the answer lacks what
        the question asks for (`_missing_kind`)."""
        weights = candidates.question.weights.keys()
        evidence = self.weigh(candidates)
        scored = [
            ScoredSentence(
                passage,
                sentence.start,
                sentence.end,
                float(weighed + added) + boosts.get(passage.chunk.id, 0.0),
                sentence.terms & weights,
                float(weighed),
            )
            for (passage, sentence), weighed, added in zip(
                candidates.sentences, evidence, self._reranked(candidates, evidence), strict=True
            )
        ]
        order = sorted(range(len(scored)), key=lambda i: scored[i].score, reverse=True)
        best = order[0]
        chosen = [best]
        for i in runner_up(scored, order):
            first, other = scored[best], scored[i]
            adds = bool(other.terms - first.terms) or self._gives_kind(candidates, best, i)
            close = other.score >= SECOND_SENTENCE_RATIO * first.score
            if self._fits([first, other]) and adds and close:
                chosen.append(i)
        if len(chosen) == 1 and (neighbour := self._kind_neighbour(candidates, scored, best)):
            chosen.append(neighbour)
        quoted = [scored[i] for i in chosen]
        confidence = self._confidence(candidates, evidence)
        confidence -= self._missing_kind(candidates.question, quoted)
        referred = self._referred_to(candidates, scored, chosen)
        quoted += [replace(scored[i], context=True) for i in referred]
        return sorted(quoted, key=lambda s: (s.passage.rank, s.start)), confidence

    def _confidence(self, candidates: Candidates, evidence: np.ndarray) -> float:
        """How sure the bot is that some candidate answers: the trained reader's best
        probability, or the best evidence of a sentence by itself: without its
        passage's closeness or what the sentence before adds, which say that the
        question's subject is near, not that its answer is here (the near misses
        the articles do not answer have the right passage). A question for the
        latest news on a subject asks for just that nearness, so it keeps them."""
        if self.reader is not None or NEWS_ON.search(candidates.question.text):
            return float(evidence.max())  # for the latest news, a near passage answers
        return float((candidates.values @ self.sentence_evidence_weights()).max())

    def sentence_evidence_weights(self) -> np.ndarray:
        """The evidence's weights with the passage's and the sentence before's at 0."""
        weights = self.evidence_weights()
        weights[[FEATURES.index("passage_cosine"), FEATURES.index("context_coverage")]] = 0.0
        return weights

    def _missing_kind(self, question: Question, chosen: list[ScoredSentence]) -> float:
        """What is taken off the confidence when the answer lacks what the question
        asks for (not beside a reader's probability): a date or a number ("When was
        the Medical University founded?" answered by a sentence that names it and
        gives no year, as the articles do when they do not say; "last year" is a date
        here), or, for a yes-or-no question, what it asks about ("Is the ISS going to
        crash?" answered by a sentence that names the station and nothing more)."""
        if self.reader is not None:
            return 0.0
        if asks_yes_or_no(question.text):
            said = share(frozenset().union(*(s.terms for s in chosen)), question.weights)
            holds = said >= YES_OR_NO_SAID
        elif question.kind in COUNTED_KINDS:
            holds = any(typed_spans(question.text, s.text, relative=True) for s in chosen)
        else:
            return 0.0
        return 0.0 if holds else self.config.missing_kind_penalty

    def _reranked(self, candidates: Candidates, evidence: np.ndarray) -> np.ndarray:
        """What the reranker adds to each candidate's ranking score (not to the
        evidence that abstention looks at); nothing without one, or beside a trained
        reader's probability (its weight was fitted beside the hand-weighted evidence)."""
        if self.reranker is None or self.reader is not None or not len(evidence):
            return np.zeros(len(evidence))
        return self.reranker.bonus(candidates.question.text, candidates.in_context(), evidence)

    @staticmethod
    def _gives_kind(candidates: Candidates, best: int, other: int) -> bool:
        """Whether the other candidate holds the date, number, person or place the
        question asks for, and the best one does not."""
        kind = candidates.holds_kind()
        return bool(kind[other] and not kind[best])

    def _fits(self, sentences: list[ScoredSentence]) -> bool:
        """Whether the sentences fit in one answer."""
        length = sum(len(s.text) for s in sentences) + len(sentences) - 1
        return length <= self.config.answer_max_chars

    def _kind_neighbour(
        self, candidates: Candidates, scored: list[ScoredSentence], best: int
    ) -> int | None:
        """The sentence next to the best one in its passage that holds something of
        the kind asked for, when the best one holds nothing of it: one that fits
        beside it, or the one after it where what it holds comes before the answer is
        cut short ("… (IPCC) is a scientific body …" then "It was first established
        in 1988 by two United Nations organizations, …")."""
        kind = candidates.holds_kind()
        if candidates.question.kind is None or kind[best]:
            return None
        passage = candidates.sentences[best][0]
        for i in (best + 1, best - 1):
            beside = 0 <= i < len(scored) and candidates.sentences[i][0] is passage
            if beside and kind[i] and self._fits([scored[best], scored[i]]):
                return i
        after = best + 1
        if after < len(scored) and candidates.sentences[after][0] is passage and kind[after]:
            ends = [end for _, end in typed_spans(candidates.question.text, scored[after].text)]
            if ends and len(scored[best].text) + 1 + min(ends) + 1 < self.config.answer_max_chars:
                return after  # what it holds ends before the cut (and its "…")
        return None

    def _referred_to(
        self, candidates: Candidates, scored: list[ScoredSentence], chosen: list[int]
    ) -> list[int]:
        """The sentences before chosen ones that open by pointing back ("It was first
        proved in 1962"), as far as they fit: quoted alone, such a sentence leaves
        the reader to guess what "it" is."""
        added: list[int] = []
        quoted = {scored[i].text for i in chosen}
        for i in sorted(chosen):
            before = candidates.before(i)
            nothing_to_add = before is None or scored[before].text in quoted
            if nothing_to_add or not REFERS_BACK.match(scored[i].text):
                continue
            if self._fits([scored[j] for j in (*chosen, *added, before)]):
                added.append(before)
                quoted.add(scored[before].text)
        return added

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def runner_up(scored: list[ScoredSentence], order: list[int]) -> list[int]:
    """The best candidate after the first (`order`: best first) that is another
    sentence, not the first again: passages overlap, so one sentence is often a
    candidate twice, and its copy is no runner-up. Empty when there is none."""
    first = scored[order[0]].text
    return next(([i] for i in order[1:] if scored[i].text != first), [])


def _cited_passages(chosen: list[ScoredSentence]) -> list[Passage]:
    """The passages the answer quotes, each verified to contain its sentences and
    cited for the first that answers (not one quoted only for what "it" means)."""
    sources: dict[str, Passage] = {}
    for sentence in chosen:
        passage = sentence.passage
        chunk, article = passage.chunk, passage.article
        if article.text[chunk.start : chunk.end] != chunk.text or sentence.text not in chunk.text:
            raise AssertionError(f"citation check failed for {chunk.id}")
        if chunk.id not in sources and not sentence.context:
            sources[chunk.id] = replace(passage, cited=(sentence.start, sentence.end))
    return list(sources.values())
