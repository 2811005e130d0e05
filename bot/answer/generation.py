"""Optional generated answers from any OpenAI-compatible chat endpoint (OpenAI,
Ollama, llama.cpp, vLLM...), grounded in the retrieved passages and checked.

The extractive answerer still decides whether the articles hold an answer
(abstention stays calibrated and offline). Only then are the numbered
passages it retrieved (the same ones: a question is retrieved once) sent, with
the instruction to answer from them and cite them as [n].
Every cited number must be one that was sent, and every sentence is held to
the passages it cites: its content words must be there (SUPPORT_MIN of them,
stemmed, as the extractive evidence counts them), and so must each of its
numbers and date words, and it must be negated exactly when the passage
sentence closest to it is. That is a check of shared words, not of meaning,
and the answer's note says so. Unsupported or uncited sentences are dropped
and the answer says so; links and URLs that are not in the passages are
removed. On a timeout, an HTTP error, or when too little survives, the
extractive answer is used and the log says why.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import httpx

from bot.answer.config import GenerationConfig
from bot.answer.records import Answer, Passage, shorten
from index.retrieval import Terms

log = logging.getLogger(__name__)

CITATION = re.compile(r"\[(\d{1,2})\]")
# A sentence ends at . ! or ? followed by space, unless a citation follows ("1998. [1]").
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?!\[\d)")
# the link text holds no [: a try that fails stops at the next [, so matching is linear
MARKDOWN_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
URL = re.compile(r"<?\b(?:https?|ftp)://[^\s<>]+>?|\bwww\.[^\s<>]+", re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# words that make a date: a claim naming another month or day than its passage differs
DATE_WORD = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
NEGATION = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE
)
PASSAGE_SENTENCE = re.compile(r"(?<=[.!?])\s+")
SUPPORT_MIN = 0.7  # share of a sentence's content words its passages must hold
KEEP_MIN = 0.5  # share of the generated sentences that must survive
SYSTEM = (
    "You answer questions about news articles using only the numbered passages given. "
    "Answer in one to three sentences. After each claim, cite the passage it comes from "
    "as [1], [2] and so on. If the passages do not contain the answer, reply exactly: "
    "NOT IN THE ARTICLES"
)


@dataclass(frozen=True)
class CheckedText:
    """A generated answer after each sentence was held to the passages it cites."""

    text: str
    cited: list[int]
    kept: int
    dropped: int


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def _facts(text: str) -> set[str]:
    """The numbers and date words (months, weekdays) a text states."""
    return _numbers(text) | {w.lower() for w in DATE_WORD.findall(text)}


def _negated(text: str) -> bool:
    return NEGATION.search(text) is not None


def _closest_sentence(words: set[str], evidence: str, terms: Terms) -> str:
    """The sentence of the cited passages that shares most content words with a claim."""
    sentences = PASSAGE_SENTENCE.split(evidence)
    return max(sentences, key=lambda sentence: len(words & terms(sentence)))


def supported(claim: str, evidence: str, terms: Terms) -> bool:
    """Shared words (SUPPORT_MIN of the claim's, stemmed), every number and date word of
    the claim in the passages, and the same negation as the passage sentence closest to
    it ("it did not open in 1932" is not "it opened in 1932"). No check of meaning."""
    words = terms(claim)
    held = len(words & terms(evidence)) / len(words) if words else 0.0
    if held < SUPPORT_MIN or not _facts(claim) <= _facts(evidence):
        return False
    return _negated(claim) == _negated(_closest_sentence(words, evidence, terms))


def _without_foreign_links(sentence: str, allowed: str) -> str:
    """Markdown links shown as their words; URLs that the passages do not hold removed."""
    sentence = MARKDOWN_LINK.sub(lambda m: m.group(1), sentence)
    return URL.sub(lambda m: m.group(0) if m.group(0).strip("<>") in allowed else "", sentence)


def check_generated(text: str, passages: list[Passage], terms: Terms) -> CheckedText:
    """Keep the sentences whose cited passages hold their content words and numbers."""
    kept: list[str] = []
    cited: set[int] = set()
    sentences = [s for s in SENTENCE_END.split(text.strip()) if s.strip()]
    for sentence in sentences:
        numbers = [int(n) for n in CITATION.findall(sentence)]
        if not numbers or any(not 1 <= n <= len(passages) for n in numbers):
            continue
        evidence = " ".join(passages[n - 1].chunk.text for n in numbers)
        sentence = " ".join(_without_foreign_links(sentence, evidence).split())
        if supported(CITATION.sub(" ", sentence), evidence, terms):
            kept.append(sentence)
            cited.update(numbers)
    return CheckedText(" ".join(kept), sorted(cited), len(kept), len(sentences) - len(kept))


class GeneratedWriter:
    """Rewords answers with a chat model, from the passages retrieved for them;
    the extractive answer is kept on any failure."""

    def __init__(self, config: GenerationConfig, answer_max_chars: int) -> None:
        self.model = config.openai_model
        self.answer_max_chars = answer_max_chars
        self._terms = Terms()
        key = config.openai_api_key.get_secret_value() if config.openai_api_key else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=config.openai_base_url.rstrip("/") + "/",
            headers=headers,
            timeout=config.openai_timeout_seconds,
        )

    def write(self, extractive: Answer, passages: list[Passage]) -> Answer:
        """The model's answer from `passages`, every sentence held to the passage it
        cites; `extractive` when the model fails or too little of it is supported."""
        if extractive.abstained:
            return extractive
        try:
            text = self._complete(extractive.question, passages)
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning(
                "generated answer failed (%s: %s); using the extractive answer",
                type(exc).__name__,
                exc,
            )
            return extractive
        if "NOT IN THE ARTICLES" in text:
            log.info("the model found no answer; using the extractive answer")
            return extractive
        checked = check_generated(text, passages, self._terms)
        sentences = checked.kept + checked.dropped
        if not checked.kept or checked.kept < KEEP_MIN * sentences:
            log.warning(
                "generated answer: %d of %d sentences cite a passage that supports them "
                "(cites %s of %d passages sent); using the extractive answer",
                checked.kept,
                sentences,
                sorted({int(n) for n in CITATION.findall(text)}) or "none",
                len(passages),
            )
            return extractive
        notes = [
            f"Written by {self.model}; each sentence was checked against the passage it cites "
            "for shared words, numbers, dates and negation (not for meaning)."
        ]
        if checked.dropped:
            notes.append(
                f"{checked.dropped} generated sentence(s) that the passages do not support "
                "were left out."
            )
        return replace(
            extractive,
            text=shorten(checked.text, self.answer_max_chars),
            sources=[passages[n - 1] for n in checked.cited],
            highlight=None,
            notes=[*extractive.notes, *notes],
        )

    def _complete(self, question: str, passages: list[Passage]) -> str:
        numbered = "\n\n".join(
            f"[{n}] {p.article.title}"
            + (f" ({p.article.published})" if p.article.published else "")
            + f"\n{p.chunk.text}"
            for n, p in enumerate(passages, 1)
        )
        response = self._client.post(
            "chat/completions",
            json={
                "model": self.model,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Passages:\n\n{numbered}\n\nQuestion: {question}"},
                ],
            },
        )
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    def close(self) -> None:
        self._client.close()
