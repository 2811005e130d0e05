"""Property-based tests (hypothesis): the question path and the platform formatters
never crash, never leak a ping, and keep their invariants, whatever the text. The
"thorough" profile (ARTICLEBOT_HYPOTHESIS=thorough, set by `make test`) runs 10,000
cases per target. The text side (loaders, chunker) is tests/test_text_properties.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.answer.answerer import Answerer
from bot.answer.intent import list_request, summary_request
from bot.answer.language import OTHERS
from bot.answer.records import NOT_FOUND, Answer, not_english
from bot.chat.discord.render import EMBEDS_TOTAL_LIMIT, TEXT_LIMIT
from bot.chat.discord.render import format_answer as discord_format
from bot.chat.slack.render import BLOCK_LIMIT, SECTION_LIMIT
from bot.chat.slack.render import TEXT_LIMIT as SLACK_TEXT_LIMIT
from bot.chat.slack.render import format_answer as slack_format
from bot.errors import QuestionError
from bot.settings import load_settings
from bot.wiring import make_answerer
from index.build.summaries import SUMMARY_CHARS
from index.storage.article_index import ArticleIndex
from tests.strategies import CASES, DISCORD_PINGS, SLACK_PINGS, TEXT, ran_every_case

# 10,000 cases of the whole question path take minutes: beyond the suite's per-test timeout
pytestmark = pytest.mark.timeout(3600)

# The model's part of the question path (its tokenizer and export, on any text) has its
# own property in test_onnx.py; 300 cases here check that part of the path too.
MODEL_CASES = 300


def test_question_path_never_crashes(
    fast_index_dir: Path, fast_embedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Without the reranker, whose share of the path (a few ms a case) has its own
    property (test_rerank.py) and the model's 300 cases: 10,000 cases of it took
    minutes."""
    config = load_settings(data_dir=tmp_path_factory.mktemp("data"), reranker=False)
    answerer = make_answerer(config, ArticleIndex.load(fast_index_dir, fast_embedder))
    ran_every_case(question_path_holds(answerer, CASES), CASES)


def test_question_path_never_crashes_with_the_model(answerer: Answerer) -> None:
    ran_every_case(question_path_holds(answerer, MODEL_CASES), MODEL_CASES)


def question_path_holds(answerer: Answerer, cases: int) -> list[int]:
    """Any question, of any size, is answered or refused with a short message; the
    answer keeps its limits. The cases run."""
    ran: list[int] = []

    # The huge question is built here, not drawn: hypothesis keeps what a strategy
    # builds, and 10,000 questions of megabytes held the worker at 3 GB.
    @settings(max_examples=cases)
    @given(TEXT, st.one_of(st.none(), st.integers(2_000, 5_000)))
    @example("SUMARY", None)  # a summary request, with several articles: "which article?"
    @example("SUMARY:0", None)  # one naming an article: its summary, longer than an answer
    @example("what's new?", None)  # the list
    def check(text: str, copies: int | None) -> None:
        ran.append(1)
        question = text if copies is None else (text or "@everyone ") * copies
        try:
            answer = answerer.answer(question)
        except QuestionError as refusal:  # refused with a short message, never a crash
            assert 0 < len(str(refusal)) <= 200 and "\n" not in str(refusal)
            return
        assert len(answer.question) <= answerer.config.question_max_chars
        if list_request(answer.question) or summary_request(answer.question):
            gist_or_list_holds(answer)
            return
        refusals = {NOT_FOUND, not_english("another language"), *map(not_english, OTHERS)}
        assert answer.abstained == (answer.text in refusals)
        assert answer.abstained == (not answer.sources)
        assert len(answer.text) <= answerer.config.answer_max_chars

    check()
    return ran


def gist_or_list_holds(answer: Answer) -> None:
    """A request for a summary or for the list is not a question the articles may not
    answer: the list, "which article?" (neither cites), or the summary, its sentences
    quoted from the passages it cites, title included at most SUMMARY_CHARS."""
    assert not answer.abstained
    if not answer.sources:
        assert (
            answer.text.startswith("Which article?") or " article(s), newest first:" in answer.text
        )
        return
    assert len(answer.text) <= SUMMARY_CHARS
    assert all(p.chunk.text[slice(*p.cited)] in answer.text for p in answer.sources)


def test_formatters_stay_within_limits_and_never_ping(fast_answerer: Answerer) -> None:
    cases: list[int] = []
    base = fast_answerer.answer("When was the International Space Station launched?")

    @given(TEXT, TEXT, st.integers(0, 30), st.booleans())
    def check(text: str, title: str, copies: int, abstained: bool) -> None:
        cases.append(1)
        passage = base.sources[0]
        article = passage.article.__class__(**{**passage.article.__dict__, "title": title or "t"})
        sources = [passage.__class__(**{**passage.__dict__, "article": article})] * copies
        answer = Answer(base.question, text or "x", abstained, sources, [text[:50]])
        for reply in discord_format(answer):
            assert len(reply.content) <= TEXT_LIMIT
            assert sum(len(e) for e in reply.embeds) <= EMBEDS_TOTAL_LIMIT
            shown = reply.content + "".join(str(e.to_dict()) for e in reply.embeds)
            assert not DISCORD_PINGS.search(shown)
        fallback, blocks = slack_format(answer, "id")
        assert len(blocks) <= BLOCK_LIMIT and len(fallback) <= SLACK_TEXT_LIMIT
        for block in blocks:
            texts = (
                [block["text"]["text"]]
                if "text" in block
                else [
                    e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)
                ]
            )
            for shown in [*texts, fallback]:
                assert len(shown) <= SECTION_LIMIT or shown is fallback
                assert not SLACK_PINGS.search(shown)

    check()
    ran_every_case(cases)
