"""Where a Slack conversation continues: the keys the shared thread store files
follow-ups under."""

from __future__ import annotations


def thread_key(channel: str, thread_ts: str) -> str:
    """A thread, by its channel and the timestamp of its first message."""
    return f"slack:{channel}:{thread_ts}"


def posted_key(answer_id: str) -> str:
    """An /ask answer posted through response_url, before Slack shows the bot its
    timestamp (and so its thread)."""
    return f"slack-answer:{answer_id}"
