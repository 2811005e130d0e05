"""The state replicas share, in a real PostgreSQL (a throw-away cluster on a Unix
socket, tests/postgres_cluster.py): two State objects on one database are two
replicas. Fast tier: no model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.chat.feedback import FeedbackStore
from bot.chat.postgres import MIGRATIONS, NOW, SharedThreads
from bot.chat.state import State, local_state
from bot.cli import main
from bot.errors import LaunchError
from bot.settings import Settings, load_settings
from bot.wiring import open_state
from tests.fakes.background import BackgroundServer
from tests.test_report import abstained, answered

wait_for = BackgroundServer.wait_for  # polls, bounded by a timeout


def replica_settings(tmp_path: Path, state_url: str | None, **overrides: object) -> Settings:
    return load_settings(data_dir=tmp_path / "data", state_url=state_url, **overrides)


@pytest.fixture
def replicas(tmp_path: Path, state_url: str) -> Iterator[tuple[State, State]]:
    """Two replicas on one database, each with its own pool (and data_dir)."""
    a = open_state(replica_settings(tmp_path / "a", state_url, rate_limit_questions=5))
    b = open_state(replica_settings(tmp_path / "b", state_url, rate_limit_questions=5))
    yield a, b
    a.close()
    b.close()


def test_a_retried_event_is_new_only_once_whichever_replica_it_reaches(
    replicas: tuple[State, State],
) -> None:
    a, b = replicas
    assert a.events.first_time("Ev1") is True
    assert b.events.first_time("Ev1") is False  # the retry, at the other replica
    assert a.events.first_time("Ev1") is False
    assert b.events.first_time("Ev2") is True


def test_an_event_id_is_forgotten_after_its_expiry(replicas: tuple[State, State]) -> None:
    a, b = replicas
    a.events.ttl = b.events.ttl = 0.3  # type: ignore[attr-defined]
    assert a.events.first_time("Ev1")
    assert not b.events.first_time("Ev1")  # not yet expired
    wait_for(lambda: b.events.first_time("Ev1"), 5)  # expired: a new delivery
    assert not a.events.first_time("Ev1")


def test_a_users_rate_limit_counts_every_replica(replicas: tuple[State, State]) -> None:
    """Five questions through A, the sixth through B: refused, with the wait until the
    first leaves the window; another user and another limit are untouched."""
    a, b = replicas
    assert [a.user_limit.retry_after("slack:U1") for _ in range(5)] == [0.0] * 5
    wait = b.user_limit.retry_after("slack:U1")
    assert 55 < wait <= 60
    assert b.user_limit.retry_after("slack:U2") == 0.0
    assert b.channel_limit.retry_after("slack:U1") == 0.0  # a different window


def test_the_window_slides(tmp_path: Path, state_url: str) -> None:
    settings = replica_settings(tmp_path, state_url, rate_limit_questions=2, rate_limit_seconds=0.5)
    state = open_state(settings)
    try:
        limit = state.user_limit
        assert limit.retry_after("k") == 0.0 and limit.retry_after("k") == 0.0
        assert 0 < limit.retry_after("k") <= 0.5
        wait_for(lambda: limit.retry_after("k") == 0.0, 5)
    finally:
        state.close()


def test_replicas_racing_for_the_last_question_admit_exactly_the_limit(
    replicas: tuple[State, State],
) -> None:
    """Forty threads on two replicas ask at once: five get through, not more."""
    a, b = replicas
    waits: list[float] = []
    start = threading.Barrier(40)

    def ask(state: State) -> None:
        start.wait()
        waits.append(state.user_limit.retry_after("slack:U1"))

    threads = [threading.Thread(target=ask, args=((a, b)[n % 2],)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(waits) == 40 and waits.count(0.0) == 5


def test_a_thread_followed_by_one_replica_is_followed_by_the_other(
    replicas: tuple[State, State],
) -> None:
    a, b = replicas
    first = answered("When was the ISS launched?")
    a.threads.remember(["slack:C1:100.1"], first)
    conversation = b.threads.conversation("slack:C1:100.1")
    assert conversation is not None
    assert conversation.questions == ("When was the ISS launched?",)
    assert conversation.article_ids == frozenset({"iss"})
    b.threads.remember(["slack:C1:100.1", "slack:C1:100.2"], answered("Who built it?"))
    later = a.threads.conversation("slack:C1:100.2")
    assert later is not None and later.questions == ("When was the ISS launched?", "Who built it?")
    assert a.threads.conversation("slack:C1:999") is None


def test_an_idle_thread_goes_quiet_on_every_replica(tmp_path: Path, state_url: str) -> None:
    state = open_state(replica_settings(tmp_path, state_url, thread_idle_minutes=0.01))  # 0.6 s
    try:
        state.threads.remember(["k"], answered("When was the ISS launched?"))
        assert state.threads.conversation("k") is not None
        wait_for(lambda: state.threads.conversation("k") is None, 5)
    finally:
        state.close()


def test_shared_threads_go_quiet_after_the_idle_minutes_the_settings_name(
    tmp_path: Path, state_url: str
) -> None:
    """thread_idle_minutes (2) reaches the shared state in minutes: a thread last
    active 119 s ago (by the database's clock) is followed, one 121 s ago is quiet."""
    state = open_state(replica_settings(tmp_path, state_url, thread_idle_minutes=2))
    try:
        threads = state.threads
        assert isinstance(threads, SharedThreads)
        threads.remember(["k"], answered("When was the ISS launched?"))
        for seconds_ago, followed in ((119, True), (121, False)):
            with threads.pool.connection() as conn:
                conn.execute(f"UPDATE threads SET last_active = {NOW} - %s", (seconds_ago,))
            assert (threads.conversation("k") is not None) is followed, seconds_ago
    finally:
        state.close()


def test_one_replica_at_a_time_holds_a_rebuild_lock(replicas: tuple[State, State]) -> None:
    a, b = replicas
    with a.locks.hold("rebuild:default") as held_by_a:
        assert held_by_a
        with b.locks.hold("rebuild:default") as held_by_b:
            assert not held_by_b
        with b.locks.hold("rebuild:sky") as other:
            assert other  # another collection's lock is free
    with b.locks.hold("rebuild:default") as held_by_b:
        assert held_by_b


def test_a_replica_that_dies_lets_go_of_its_lock(tmp_path: Path, state_url: str) -> None:
    """The lock belongs to the holder's connection: when it is gone, so is the lock."""
    dying = open_state(replica_settings(tmp_path / "a", state_url))
    other = open_state(replica_settings(tmp_path / "b", state_url))
    try:
        holding = dying.locks.hold("rebuild:default")
        assert holding.__enter__()
        with other.locks.hold("rebuild:default") as held:
            assert not held
        with psycopg.connect(state_url, autocommit=True) as admin:  # the replica's death
            # with a timeout, pg_terminate_backend waits until the backend has exited
            # (and let go of its locks) instead of returning once the signal is sent
            admin.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            )
        with other.locks.hold("rebuild:default") as held:
            assert held
    finally:
        other.close()
        dying.close()


def test_feedback_is_stored_once_and_read_from_either_replica(
    replicas: tuple[State, State],
) -> None:
    """An answer recorded by A, voted on through B twice by one user (the vote changes,
    it is not counted twice), reported the same by both."""
    a, b = replicas
    answer_id = a.feedback.record_answer(
        answered("When was the ISS launched?"), platform="slack", user_id="U1", channel="C1"
    )
    a.feedback.record_answer(abstained("Who will replace it?"), platform="slack", user_id="U2")
    assert b.feedback.vote(answer_id, user_id="U3", helpful=True)
    assert b.feedback.vote(answer_id, user_id="U3", helpful=False)
    assert not b.feedback.vote("no-such-answer", user_id="U3", helpful=True)
    for state in (a, b):
        report = state.feedback.report()
        assert (report.questions, report.not_answered) == (2, 1)
        assert (report.helpful, report.not_helpful) == (0, 1)
        assert report.unanswered == [("Who will replace it?", 1)]
        assert [v.question for v in report.voted_down] == ["When was the ISS launched?"]
        summary = state.feedback.summary()
        assert (summary.answers, summary.votes) == (2, 1)


def test_postgres_and_sqlite_report_alike(tmp_path: Path, state_url: str) -> None:
    """One sequence of answers and votes gives the same report from either database:
    the queries are written once."""
    shared = open_state(replica_settings(tmp_path / "pg", state_url))
    local = local_state(replica_settings(tmp_path / "local", None))
    try:
        reports, since = [], time.time() - 60
        for store in (shared.feedback, local.feedback):
            for question in ("Who will replace the ISS?", "who will replace the ISS"):
                store.record_answer(abstained(question), platform="slack", user_id="U1")
            sky = store.record_answer(
                answered("What is the comet?"), platform="slack", user_id="U4", collection="sky"
            )
            store.vote(sky, user_id="U5", helpful=False)
            reports += [store.report(since=since), store.report(collection="sky")]
        assert reports[:2] == reports[2:]
        assert reports[1].questions == 1 and reports[1].not_helpful == 1
    finally:
        shared.close()
        local.close()


def test_the_tables_are_made_once_by_replicas_starting_together(
    tmp_path: Path, state_url: str
) -> None:
    states: list[State] = []
    start = threading.Barrier(4)

    def open_one(n: int) -> None:
        start.wait()
        states.append(open_state(replica_settings(tmp_path / str(n), state_url)))

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(states) == 4
        with psycopg.connect(state_url) as conn:
            versions = conn.execute(
                "SELECT version FROM articlebot_schema ORDER BY version"
            ).fetchall()
        assert versions == [(n,) for n in range(1, len(MIGRATIONS) + 1)]  # each one once
    finally:
        for state in states:
            state.close()


def test_report_and_feedback_read_the_shared_database(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    state_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`articlebot report` and `feedback` on any machine that sets the same state_url."""
    state = open_state(replica_settings(tmp_path / "bot", state_url))
    state.feedback.record_answer(abstained("Who will replace it?"), platform="slack", user_id="U1")
    state.close()
    monkeypatch.setenv("ARTICLEBOT_STATE_URL", state_url)
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "operator"))
    assert main(["report", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["questions"] == 1 and found["unanswered"] == [["Who will replace it?", 1]]
    assert main(["feedback"]) == 0
    assert "Answers given: 1" in capsys.readouterr().out
    assert not (tmp_path / "operator" / "feedback.sqlite3").exists()


def test_an_unreachable_database_is_a_clear_error_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.chat.postgres.CONNECT_SECONDS", 1.0)
    url = f"postgresql://bot:hunter2secret@/nowhere?host={tmp_path}"  # no server there
    with pytest.raises(LaunchError) as error:
        open_state(replica_settings(tmp_path, url))
    message = str(error.value)
    assert "cannot use the state database" in message and "nowhere" in message
    assert "hunter2secret" not in message


def test_state_url_takes_postgresql_only_and_is_a_secret(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        replica_settings(tmp_path, "mysql://bot@db/articlebot")
    config = tmp_path / "settings.toml"
    config.write_text('state_url = "postgresql://bot:pw@db/articlebot"\n')
    config.chmod(0o644)
    code = main(["--config", str(config), "report"])
    assert code == 2 and "holds secrets" in capsys.readouterr().err  # others could read it


def test_without_state_url_the_state_is_this_processs_own(tmp_path: Path) -> None:
    state = open_state(replica_settings(tmp_path, None))
    try:
        assert not state.shared and isinstance(state.feedback, FeedbackStore)
        assert (tmp_path / "data" / "feedback.sqlite3").exists()
    finally:
        state.close()


def test_without_postgresql_the_tests_fail_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI must run the replica tests: with no server binaries they fail, never skip."""
    import tests.postgres_cluster as cluster

    monkeypatch.setattr(cluster.shutil, "which", lambda name: None)
    monkeypatch.setattr(cluster.glob, "glob", lambda pattern: [])
    with pytest.raises(RuntimeError, match="apt-get install postgresql-15"):
        cluster.server_binaries()
