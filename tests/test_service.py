"""What chat platforms share: the one ask flow, /reindex and /sources, rate limits
that forget idle users, and a bounded queue of questions."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.answer.answerer import Answerer
from bot.answer.records import Answer
from bot.chat import messages
from bot.chat.service import ChatService, Outcome, Reply
from bot.chat.state import RateLimiter
from bot.errors import BusyError
from bot.settings import Settings, load_settings
from bot.wiring import make_answerer, open_state
from index.build.publish import BuildLock
from index.embedding.embedder import Embedder
from index.storage.article_index import ArticleIndex
from tests.fakes.chat import with_settings
from tests.fakes.hashing import HashingEmbedder

LAUNCH = "When was the International Space Station launched?"


def test_idle_keys_are_forgotten() -> None:
    limiter = RateLimiter(2, 60)
    for n in range(1000):
        assert limiter.retry_after(f"user{n}", now=float(n % 30)) == 0
    assert len(limiter) == 1000
    assert limiter.retry_after("someone-later", now=95.0) == 0
    assert len(limiter) == 1  # everyone else was idle for a whole window


events = st.lists(
    st.tuples(st.sampled_from("abcde"), st.floats(0, 5, allow_nan=False)), max_size=60
)


@given(events=events, limit=st.integers(1, 4), window=st.floats(0.5, 3))
# found by the thorough profile: `first + window - now` rounded to 0.0 on a refusal
@example(events=[("a", 1.0393945203792723), ("a", 3.0), ("a", 1.0)], limit=1, window=3.0)
def test_forgetting_never_changes_a_decision(
    events: list[tuple[str, float]], limit: int, window: float
) -> None:
    """Against a reference that remembers everything, the same answer every time."""
    limiter = RateLimiter(limit, window)
    history: dict[str, list[float]] = {}
    now = 0.0
    for key, step in events:
        now += step
        recent = [t for t in history.get(key, []) if t > now - window]
        expected = 0.0 if len(recent) < limit else recent[0] - (now - window)
        assert len(recent) < limit or expected > 0  # a refusal is never "0 s to wait"
        if not expected:
            recent.append(now)
        history[key] = recent
        wait = limiter.retry_after(key, now=now)
        assert (wait == 0) == (expected == 0)  # the same decision, exactly
        assert wait == pytest.approx(expected)


async def test_a_full_queue_says_busy_instead_of_growing(
    answerer: Answerer, embedder: Embedder, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tight = settings.model_copy(update={"answer_threads": 1, "answer_queue_max": 2})
    service = ChatService(answerer, embedder, tight)
    release, entered = threading.Event(), threading.Event()
    real = answerer.answer

    def held(question: str, **options: object) -> Answer:
        entered.set()
        release.wait(20)
        return real(question, **options)

    monkeypatch.setattr(answerer, "answer", held)
    try:
        first = asyncio.create_task(service.answer(LAUNCH))
        second = asyncio.create_task(service.answer(LAUNCH))
        # one answering (so both tasks have run up to their submission): one queued
        assert await asyncio.to_thread(entered.wait, 20)
        with pytest.raises(BusyError, match="answering a lot of questions"):
            await service.answer(LAUNCH)
        release.set()
        answers = await asyncio.gather(first, second)
        assert all("1998" in a.text for a in answers)
        assert "1998" in (await service.answer(LAUNCH)).text  # room again
        exposition = service.metrics.exposition().decode()
        assert 'articlebot_busy_refusals_total{platform="chat"} 1.0' in exposition
    finally:
        release.set()
        service.close()


# --- the ask flow, on the hashing embedder (fast tier) -------------------------------------


@pytest.fixture
def fast_service(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> Iterator[ChatService]:
    """A chat service on a private copy of the fast index (a /reindex changes it)."""
    limited = settings.model_copy(
        update={
            "rate_limit_questions": 2,
            "index_dir": fast_index_copy,
            "reindex_cooldown_seconds": 0,
        }
    )
    answerer = make_answerer(limited, ArticleIndex.load(fast_index_copy, fast_embedder))
    service = ChatService(answerer, fast_embedder, limited)
    yield service
    service.close()


async def test_admitted_questions_are_answered_and_the_rest_get_a_note(
    fast_service: ChatService,
) -> None:
    assert await fast_service.admit("u1", "c1", allowed=False) == Reply(
        Outcome.REFUSED, messages.NOT_THIS_CHANNEL
    )
    first = await fast_service.ask("How much did the harbour bridge cost?", "u1", "c1", "help")
    assert first.outcome is Outcome.ANSWERED and first.answer is not None
    assert first.answer.question == "How much did the harbour bridge cost?"
    help_ = await fast_service.ask("   ", "u1", "c1", "Ask me with /ask")
    assert help_ == Reply(Outcome.HELP, "Ask me with /ask")
    third = await fast_service.ask("How much did the harbour bridge cost?", "u1", "c1", "help")
    assert third.outcome is Outcome.REFUSED and third.text.startswith("You're asking quickly")
    other = await fast_service.ask("How much did the harbour bridge cost?", "u2", "c1", "help")
    assert other.outcome is Outcome.ANSWERED  # one user's limit is not another's


async def test_a_failure_becomes_sorry_and_is_logged(
    fast_service: ChatService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(question: str, **options: object) -> Answer:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(fast_service.answerer, "answer", broken)
    reply = await fast_service.reply("anything", "help")
    assert reply == Reply(Outcome.FAILED, messages.SORRY)
    assert "index exploded" in caplog.text  # the traceback is for the operator


async def reindexed(service: ChatService) -> str:
    """What /reindex says, rendered as a platform would with a plain bullet."""
    return messages.rebuilt(await service.run_reindex(), "-", str)


async def listed(service: ChatService, user_key: str) -> str:
    """What /sources says to this user, rendered with a plain bullet."""
    return messages.article_list(await service.sources_for(user_key), "-", str)


def cooled(service: ChatService) -> contextlib.AbstractContextManager[ChatService]:
    """`service` with a 600 s reindex cooldown in its settings, sharing its state."""
    settings = service.settings.model_copy(update={"reindex_cooldown_seconds": 600})
    return with_settings(service, settings)


async def test_a_rebuild_refused_as_busy_starts_no_cooldown(fast_service: ChatService) -> None:
    """Another process (or replica) was rebuilding: this one fetched nothing, so the
    next /reindex need not wait out the cooldown."""
    with cooled(fast_service) as service:
        with BuildLock(service.collection().settings.resolved_index_dir):
            assert await reindexed(service) == messages.REBUILD_RUNNING
        assert await service.claim_reindex() is None  # no cooldown started
        assert (await reindexed(service)).startswith("Index rebuilt: ")  # the claimed one
        assert await service.claim_reindex() == messages.cooldown_note(600)  # this one counts


async def test_reindex_and_sources_say_the_same_on_every_platform(
    fast_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    dated = "- Apple festival draws record crowds (2024-09-14): "
    lines = messages.article_list(fast_service.articles(), "-", str).splitlines()
    assert any(line.startswith(dated) for line in lines)  # with its date and a line of it
    summary = await reindexed(fast_service)
    assert summary.startswith("Index rebuilt: ") and await fast_service.claim_reindex() is None
    assert (await reindexed(fast_service)).startswith("Index rebuilt: ")
    with cooled(fast_service) as service:
        assert await service.claim_reindex() == messages.cooldown_note(600)
    listing = await listed(fast_service, "u9")
    assert "- Russia plans to leave the International Space Station" in listing
    await listed(fast_service, "u9")
    assert (await listed(fast_service, "u9")).startswith("You're asking quickly")

    with BuildLock(fast_service.collection().settings.resolved_index_dir):  # another process
        assert await reindexed(fast_service) == messages.REBUILD_RUNNING

    def broken(**options: object) -> object:
        raise OSError("disk on fire")

    monkeypatch.setattr(fast_service.collection(), "sync", broken)
    assert await reindexed(fast_service) == messages.SORRY


async def test_the_reindex_cooldown_holds_across_replicas(
    fast_index_copy: Path,
    fast_embedder: HashingEmbedder,
    settings: Settings,
    state_url: str,
    tmp_path: Path,
) -> None:
    """Two replicas on one state database: after a /reindex on one, the other refuses
    until the cooldown ends, on the database's clock."""
    shared = settings.model_copy(
        update={"index_dir": fast_index_copy, "reindex_cooldown_seconds": 3600}
    )
    replicas = []
    for name in ("a", "b"):
        state = open_state(load_settings(data_dir=tmp_path / name, state_url=state_url))
        answerer = make_answerer(shared, ArticleIndex.load(fast_index_copy, fast_embedder))
        replicas.append(ChatService(answerer, fast_embedder, shared, state=state))
    a, b = replicas
    try:
        assert await a.claim_reindex() is None
        assert (await reindexed(a)).startswith("Index rebuilt: ")
        assert await b.claim_reindex() == messages.cooldown_note(3600)
        assert await a.claim_reindex() == messages.cooldown_note(3600)
        assert not a.reindexing and not b.reindexing  # a refused claim is let go
    finally:
        for replica in replicas:
            replica.close()
            replica.state.close()


def test_a_list_too_long_for_a_message_keeps_whole_lines() -> None:
    """Cut after the last line that fits, never inside one (a linked title cut short
    shows its markup), with "…" for the rest."""
    lines = [f"• <https://news.example/{n}|Article {n} " + "word " * 20 + ">" for n in range(40)]
    shown = messages.whole_lines("\n".join(lines), 3000)
    assert len(shown) <= 3000 and shown.endswith("\n…")
    assert shown.splitlines()[:-1] == lines[: len(shown.splitlines()) - 1]
    assert messages.whole_lines("short", 3000) == "short"
