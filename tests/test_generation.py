"""Optional generated answers: a real OpenAI-compatible HTTP exchange with a fake
server on 127.0.0.1, citations checked, extractive fallback on every failure."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answer.answerer import Answerer
from bot.answer.generation import GeneratedWriter, check_generated
from bot.answer.records import Passage
from bot.settings import Settings, load_settings
from bot.wiring import make_answerer
from index.embedding.embedder import Embedder
from index.records import Chunk
from index.retrieval import Terms
from index.sources.articles import make_article
from index.storage.article_index import ArticleIndex
from tests.fakes.openai_server import FakeOpenAI

LAUNCH = "When was the International Space Station launched?"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def nothing_refused(server: FakeOpenAI) -> Iterator[None]:
    yield
    assert server.refused == []


@pytest.fixture
def generated(
    server: FakeOpenAI, bundled_index_dir: Path, embedder: Embedder, tmp_path: Path
) -> Iterator[Answerer]:
    server.reply, server.status, server.delay = "The station was launched in 1998 [1].", 200, 0.0
    settings: Settings = load_settings(
        data_dir=tmp_path,
        answer_backend="openai",
        openai_base_url=server.base_url,
        openai_model="fake-model",
        openai_api_key="sk-test-key",
        openai_timeout_seconds=1.0,
    )
    answerer = make_answerer(settings, ArticleIndex.load(bundled_index_dir, embedder))
    assert isinstance(answerer.writer, GeneratedWriter)
    yield answerer
    answerer.close()


def test_generated_answer_with_valid_citation(generated: Answerer, server: FakeOpenAI) -> None:
    answer = generated.answer(LAUNCH)
    assert answer.text == "The station was launched in 1998 [1]."
    assert not answer.abstained and "fake-model" in answer.notes[-1]
    request = server.requests[-1]
    assert request["auth"] == "Bearer sk-test-key"
    prompt = request["body"]["messages"][-1]["content"]
    assert "[1] Russia plans to leave the International Space Station" in prompt
    assert "launched in 1998" in prompt and LAUNCH in prompt
    assert answer.sources[0].chunk.text in prompt  # the cited passage is one that was sent


@pytest.mark.parametrize(
    ("reply", "status", "delay", "why"),
    [
        ("Launched in 1998 [9].", 200, 0.0, "cites [9]"),
        ("Launched in 1998.", 200, 0.0, "cites none"),
        ("irrelevant", 500, 0.0, "HTTPStatusError"),
        ("Launched in 1998 [1].", 200, 3.0, "ReadTimeout"),
    ],
    ids=["bad citation", "uncited", "server error", "timeout"],
)
def test_failures_fall_back_to_the_extractive_answer(
    generated: Answerer,
    server: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    reply: str,
    status: int,
    delay: float,
    why: str,
) -> None:
    server.reply, server.status, server.delay = reply, status, delay
    with caplog.at_level(logging.WARNING, logger="bot.answer.generation"):
        answer = generated.answer(LAUNCH)
    assert answer.text.startswith("The International Space Station was launched in 1998")
    assert answer.notes == []  # the extractive answer, as is
    assert why in caplog.text and "using the extractive answer" in caplog.text


def test_abstention_stays_extractive_and_sends_nothing(
    generated: Answerer, server: FakeOpenAI
) -> None:
    before = len(server.requests)
    assert generated.answer("Who won the 2022 World Cup?").abstained
    assert len(server.requests) == before


def test_an_unsupported_sentence_is_dropped_and_the_answer_says_so(
    generated: Answerer, server: FakeOpenAI
) -> None:
    server.reply = (
        "The station was launched in 1998 [1]. It has been a research vessel for more than two "
        "decades [1]. The station will be sold for $1 to a buyer [1]. It is the best ever built."
    )
    answer = generated.answer(LAUNCH)
    assert answer.text == (
        "The station was launched in 1998 [1]. "
        "It has been a research vessel for more than two decades [1]."
    )
    assert "2 generated sentence(s) that the passages do not support were left out." in answer.notes
    assert any(
        "checked against the passage it cites for shared words, numbers, dates and negation "
        "(not for meaning)" in n
        for n in answer.notes
    )


def test_an_answer_the_passages_do_not_support_falls_back(
    generated: Answerer, server: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    server.reply = "The station will be sold to a private buyer for $1 [1]."
    with caplog.at_level(logging.WARNING, logger="bot.answer.generation"):
        answer = generated.answer(LAUNCH)
    assert answer.text.startswith("The International Space Station was launched in 1998")
    assert answer.notes == [] and "0 of 1 sentences" in caplog.text


def test_a_wrong_number_is_not_supported(generated: Answerer, server: FakeOpenAI) -> None:
    server.reply = (  # every word is in the passage but the year
        "The International Space Station was launched in 1999 with Russia, the United States, "
        "Canada, Japan and the European Space Agency [1]."
    )
    assert generated.answer(LAUNCH).text.startswith(
        "The International Space Station was launched in 1998"
    )


def test_links_not_in_the_passages_are_removed(generated: Answerer, server: FakeOpenAI) -> None:
    server.reply = (
        "The International Space Station was launched in 1998 [1] "
        "([space station](https://phish.example/login)). "
        "The space station was launched in 1998 https://phish.example/x [1]."
    )
    answer = generated.answer(LAUNCH)
    assert "phish.example" not in answer.text and "](" not in answer.text
    assert "launched in 1998" in answer.text and "Written by fake-model" in answer.notes[-1]


def test_the_passages_retrieved_for_the_answer_are_the_ones_sent(
    generated: Answerer, server: FakeOpenAI
) -> None:
    """One retrieval per question: top_k passages are retrieved, and exactly those go
    to the model (a second search could ignore top_k or read a newer version)."""
    for k in (1, 2, 3):  # the bundled article has three chunks
        generated.answer(LAUNCH, top_k=k)
        prompt = server.requests[-1]["body"]["messages"][-1]["content"]
        sent = [n for n in range(1, 10) if f"[{n}] Russia plans" in prompt]
        assert sent == list(range(1, k + 1))


# --- the check itself, on hand-made passages (fast tier) -------------------------------------


def passage_of(text: str) -> Passage:
    article = make_article(article_id="bridge", title="The bridge", body=text, source="b.txt")
    return Passage(1, Chunk("bridge-0", "bridge", 0, len(article.text), article.text), article, 0.8)


BRIDGE = (
    "The harbour bridge opened in March 1932 after eight years of work. "
    "It did not carry trains until 1950."
)


@pytest.mark.parametrize(
    ("sentence", "kept"),
    [
        ("The harbour bridge opened in March 1932 [1].", True),
        ("The harbour bridge did not open in March 1932 [1].", False),  # negated
        ("The harbour bridge never opened in 1932 [1].", False),
        ("The harbour bridge opened in May 1932 [1].", False),  # another month
        ("The harbour bridge opened on a Sunday in March 1932 [1].", False),
        ("The harbour bridge opened in March 1933 [1].", False),  # another year
        ("The bridge did not carry trains until 1950 [1].", True),  # negated as the passage
        ("The bridge carried trains until 1950 [1].", False),  # the passage's negation dropped
    ],
)
def test_numbers_dates_and_negation_must_agree_with_the_passage(sentence: str, kept: bool) -> None:
    checked = check_generated(sentence, [passage_of(BRIDGE)], Terms())
    assert (checked.kept == 1) is kept


@pytest.mark.timeout(30)
def test_link_removal_is_linear_in_the_text() -> None:
    """Many unclosed [ (a reply or passage crafted to stall the check) take a moment,
    not minutes (the old pattern was quadratic: 16,000 took 1.8 s, and 200,000 ran past
    this test's 30 s limit)."""
    checked = check_generated("[" * 200_000 + " [1].", [passage_of(BRIDGE)], Terms())
    assert checked.kept == 0
    shown = check_generated(
        "The harbour [bridge](https://evil.example/x_(y)) opened in March 1932 [1].",
        [passage_of(BRIDGE)],
        Terms(),
    )
    assert shown.text == "The harbour bridge opened in March 1932 [1]."
