"""Optional generated answers from any OpenAI-compatible chat endpoint (OpenAI,
Ollama, llama.cpp, vLLM...), grounded in the retrieved passages and checked.

The extractive answerer still decides whether the articles hold an answer
(abstention stays calibrated and offline). Only then are the numbered
passages sent, with the instruction to answer from them and cite them as [n].
Every cited number must be one that was sent; on a timeout, an HTTP error or
an answer without valid citations, the extractive answer is used and the log
says why.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import httpx

from bot.core import Answer, Answerer, Passage, prepare_question, shorten

log = logging.getLogger(__name__)

CITATION = re.compile(r"\[(\d{1,2})\]")
SYSTEM = (
    "You answer questions about news articles using only the numbered passages given. "
    "Answer in one to three sentences. After each claim, cite the passage it comes from "
    "as [1], [2] and so on. If the passages do not contain the answer, reply exactly: "
    "NOT IN THE ARTICLES"
)


class GeneratedAnswerer:
    """An Answerer whose wording comes from a chat model, with extractive fallback."""

    def __init__(
        self,
        extractive: Answerer,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_seconds: float = 20.0,
        passages: int = 5,
    ) -> None:
        self.extractive = extractive
        self.model = model
        self.passages = passages
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout_seconds
        )

    def __getattr__(self, name: str) -> object:
        # index, embedder, search, use_index, question_max_chars...: the extractive core's
        return getattr(self.extractive, name)

    def answer(self, question: str, top_k: int | None = None) -> Answer:
        extractive = self.extractive.answer(question, top_k)
        if extractive.abstained:
            return extractive
        passages = self.extractive.search(prepare_question(question, self.question_max_chars).text)
        passages = passages[: self.passages]
        try:
            text = self._complete(extractive.question, passages)
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning(
                "generated answer failed (%s: %s); using the extractive answer",
                type(exc).__name__,
                exc,
            )
            return extractive
        cited = sorted({int(n) for n in CITATION.findall(text)})
        if "NOT IN THE ARTICLES" in text:
            log.info("the model found no answer; using the extractive answer")
            return extractive
        if not cited or any(not 1 <= n <= len(passages) for n in cited):
            log.warning(
                "generated answer cites %s of %d passages sent; using the extractive answer",
                cited or "none",
                len(passages),
            )
            return extractive
        sources = [passages[n - 1] for n in cited]
        note = f"Written by {self.model} from the cited passages."
        return replace(
            extractive,
            text=shorten(text.strip(), self.answer_max_chars),
            sources=sources,
            highlight=None,
            notes=[*extractive.notes, note],
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
