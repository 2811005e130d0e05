"""Property-based tests (hypothesis): loaders, chunker, question path and the
platform formatters never crash, never leak a ping, and keep their invariants,
whatever the text. The "thorough" profile (ARTICLEBOT_HYPOTHESIS=thorough, set
by `make test`) runs 10,000 cases per target."""

from __future__ import annotations

import os
import re

import blingfire
import pytest
from hypothesis import assume, example, given, settings
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
from index.build.chunking import ChunkingConfig, chunk_article
from index.build.summaries import SUMMARY_CHARS
from index.errors import SourceError
from index.sentence_split import sentence_offsets, sentence_spans
from index.sources.articles import make_article, normalise_text, parse_text
from tests.fakes.hashing import HashingEmbedder

# 10,000 cases of the whole question path take minutes: beyond the suite's per-test timeout
pytestmark = pytest.mark.timeout(3600)

# Text that exercises what breaks bots: any Unicode, control characters, mention and
# markup syntax, code fences, emoji, long runs.
TRICKY = st.sampled_from(
    [
        "@everyone",
        "@here",
        # real-length ids: Discord ids are snowflakes of 17 to 20 digits, and only
        # mentions of that shape ping (shorter ones would never test the defusing)
        "<@123456789012345678>",
        "<@!45678901234567890>",
        "<@&7890123456789012345>",
        "<@1234>",
        "<#42>",
        "<!channel>",
        "<!here>",
        "<@U12345>",
        "<!subteam^S1>",
        "&",
        "<",
        ">",
        "```",
        "**",
        "\n\n",
        "\x00",
        "\u200b",
        "😀",
        "…",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=60), TRICKY), max_size=40).map("".join)
# Discord pings on bare @everyone / @here and <@id>, <@&role>; Slack only on <!...> and <@U...>
DISCORD_PINGS = re.compile(r"@everyone|@here|<@[!&]?\d{17,20}>")  # ids are snowflakes
SLACK_PINGS = re.compile(r"<!channel>|<!here>|<!everyone>|<@[UW]\w+>|<!subteam")


# `make test` sets ARTICLEBOT_HYPOTHESIS=thorough: then 10,000 cases, whatever profile
# hypothesis happens to have loaded
CASES = 10_000 if os.environ.get("ARTICLEBOT_HYPOTHESIS") == "thorough" else 300


def ran_every_case(cases: list[int], wanted: int = CASES) -> None:
    """Each target really ran the number of cases asked for (10,000 in `make test`)."""
    assert len(cases) >= wanted


def test_loading_any_text_gives_an_article_or_a_clear_error() -> None:
    cases: list[int] = []

    @given(TEXT, TEXT)
    def check(title: str, body: str) -> None:
        cases.append(1)
        load_any(title, body)

    check()
    ran_every_case(cases)


def load_any(title: str, body: str) -> None:
    try:
        article = parse_text(f"{title}\n\n{body}", article_id="a", source="mem")
    except SourceError as exc:
        assert exc.reason  # e.g. "the article has no text"
        return
    assert article.text and article.text == normalise_text(article.text)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", article.text)


def test_chunker_properties(fast_embedder: HashingEmbedder) -> None:
    cases: list[int] = []
    config = ChunkingConfig(
        target_tokens=60, overlap_tokens=16, max_tokens=fast_embedder.max_tokens - 2
    )

    @given(TEXT)
    def check(body: str) -> None:
        cases.append(1)
        try:
            article = make_article(article_id="a", title="T", body=body, source="mem")
        except SourceError:
            return
        chunks = chunk_article(
            article, config, fast_embedder.count_tokens, fast_embedder.token_offsets
        )
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text  # offsets slice back
            assert fast_embedder.count_tokens([chunk.text])[0] <= config.max_tokens  # model limit
        for span in sentence_spans(article.text):  # chunks cover the cleaned text
            assert any(c.start <= span.start < c.end for c in chunks)

    check()
    ran_every_case(cases)


def test_sentence_offsets_are_blingfires() -> None:
    """Our UTF-8 offset mapping gives blingfire's own sentences, for any text an
    article can hold (cleaned text has no NUL). Where blingfire finds no sentence
    (only invisible characters), the whole text is one."""
    assert sentence_offsets(" \u200b\u200b") == [(0, 3)]
    cases: list[int] = []

    @settings(max_examples=min(CASES, 2000))  # a narrow target: 2,000 cases cover it
    @given(TEXT.filter(lambda t: t.strip() and "\x00" not in t))
    def check(text: str) -> None:
        cases.append(1)
        assume(blingfire.text_to_sentences(text).strip())  # else its offsets are garbage
        _, expected = blingfire.text_to_sentences_and_offsets(text)
        assert sentence_offsets(text) == expected

    check()
    assert len(cases) >= min(CASES, 2000) // 2


# The model's part of the question path (its tokenizer and export, on any text) has its
# own property in test_onnx.py; 300 cases here check that part of the path too.
MODEL_CASES = 300


def test_question_path_never_crashes(fast_answerer: Answerer) -> None:
    ran_every_case(question_path_holds(fast_answerer, CASES), CASES)


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
