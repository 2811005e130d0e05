"""Conversations in threads, the logic (fast tier: no model): how a follow-up is read,
which threads are followed and for how long, which unaddressed messages are questions."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.answer.followup import Conversation, read_in_context
from bot.answer.records import NOT_FOUND, Answer, Passage
from bot.chat.state import local_state
from bot.chat.threads import (
    NOT_WORDS,
    WORD,
    ThreadMemory,
    looks_like_question,
    unasked_answer,
)
from bot.settings import load_settings
from index.records import Chunk
from index.sources.articles import make_article

LAUNCH = "When was the International Space Station launched?"


def terms(text: str) -> set[str]:
    """Content words, roughly as the retriever's Terms: enough to tell a bare question."""
    stop = {"it", "they", "what", "which", "when", "was", "the", "did", "who", "about", "and"}
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in stop}


def answer_from(article_id: str, question: str = LAUNCH, read_as: str = "") -> Answer:
    article = make_article(article_id=article_id, title="T", body="Body text.", source="s.txt")
    chunk = Chunk(f"{article_id}-0", article_id, 0, len(article.text), article.text)
    passage = Passage(1, chunk, article, 0.8)
    return Answer(question, "Body text.", False, [passage], read_as=read_as)


def test_a_follow_up_takes_the_earlier_topic_in_place_of_its_pronoun() -> None:
    conversation = Conversation().after(answer_from("iss"))
    read = read_in_context("which countries built it?", conversation, terms)
    assert read == "which countries built the International Space Station?"
    possessive = read_in_context("what is its orbit?", conversation, terms)
    assert possessive == "what is the International Space Station's orbit?"
    bare = read_in_context("and Canada?", conversation, terms)  # nothing to replace
    assert bare == "and Canada? International Space Station"


def test_a_question_that_stands_alone_is_read_as_it_is() -> None:
    conversation = Conversation().after(answer_from("iss"))
    question = "How long was Mir in orbit around Earth?"
    assert read_in_context(question, conversation, terms) == question
    assert read_in_context("which countries built it?", None, terms) == "which countries built it?"


def test_the_topic_of_a_follow_up_carries_on_and_cited_articles_add_up() -> None:
    first = Conversation().after(answer_from("iss"))
    second = first.after(
        answer_from("mir", "who built it?", "who built the International Space Station?")
    )
    assert read_in_context("when was it launched?", second, terms) == (
        "when was the International Space Station launched?"
    )
    assert second.article_ids == {"iss", "mir"}
    unanswered = Answer("what did it cost?", NOT_FOUND, True)
    assert second.after(unanswered).article_ids == {"iss", "mir"}  # nothing cited, nothing added


def test_only_threads_answered_in_are_followed_until_idle() -> None:
    threads = ThreadMemory(idle_seconds=60)
    assert threads.conversation("slack:C1:1", now=0) is None
    threads.remember(["slack:C1:1"], answer_from("iss"), now=0)
    assert threads.conversation("slack:C1:1", now=59).questions == (LAUNCH,)
    assert threads.conversation("slack:C1:2", now=59) is None
    assert threads.conversation("slack:C1:1", now=61) is None  # idle: quiet, and forgotten
    assert len(threads) == 0


def test_a_reply_chain_is_one_conversation_under_each_of_its_keys() -> None:
    threads = ThreadMemory(idle_seconds=60)
    threads.remember(["discord:m:1", "discord:m:2"], answer_from("iss"), now=0)
    threads.remember(["discord:m:3"], answer_from("iss", "who built it?"), now=1)
    assert threads.conversation("discord:m:3", now=2).questions == ("who built it?",)
    threads.remember(["discord:m:2", "discord:m:4"], answer_from("mir", "and Mir?"), now=3)
    assert threads.conversation("discord:m:4", now=4).questions == (LAUNCH, "and Mir?")


def test_threads_go_quiet_after_the_idle_minutes_the_settings_name(tmp_path: Path) -> None:
    """thread_idle_minutes reaches the state a bot makes at start, in minutes."""
    state = local_state(load_settings(data_dir=tmp_path, thread_idle_minutes=2))
    try:
        threads = state.threads
        assert isinstance(threads, ThreadMemory)
        threads.remember(["slack:C1:1.0"], answer_from("iss"), now=0)
        assert threads.conversation("slack:C1:1.0", now=119) is not None
        assert threads.conversation("slack:C1:1.0", now=121) is None
    finally:
        state.close()


def test_memory_keeps_the_most_recently_active_threads() -> None:
    threads = ThreadMemory(idle_seconds=60, size=2)
    for n in range(3):
        threads.remember([f"t{n}"], answer_from("iss"), now=n)
    assert len(threads) == 2 and threads.conversation("t0", now=3) is None


def test_what_counts_as_a_question_nobody_addressed() -> None:
    questions = [LAUNCH, "which countries built it?", "who leads Roscosmos", "and Canada?"]
    others = ["thanks all", "https://example.com/story?", ":tada: :tada:", "ok?", "🎉🎉", ""]
    assert all(looks_like_question(q) for q in questions)
    assert not any(looks_like_question(o) for o in others)


@given(st.text(max_size=300))
def test_question_detection_takes_any_text(text: str) -> None:
    """Any text gets a yes or no; fewer than two words (links, mentions and :emoji:
    not counted) is never a question, and two or more ending in "?" always is."""
    words = WORD.findall(NOT_WORDS.sub(" ", text))
    asked = looks_like_question(text)
    assert isinstance(asked, bool)
    if len(words) < 2:
        assert not asked
        assert not looks_like_question(text + "?")
    else:
        assert looks_like_question(text.rstrip() + "?")


def test_an_answer_channel_posts_only_answers() -> None:
    found, missing = answer_from("iss"), Answer("x?", NOT_FOUND, True)
    assert unasked_answer(found, silent_abstain=True) is found
    assert unasked_answer(missing, silent_abstain=True) is None
    assert unasked_answer(missing, silent_abstain=False) is missing
    assert unasked_answer(None, silent_abstain=False) is None  # a refusal, help or failure
