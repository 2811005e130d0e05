"""What every chat platform's bot shares in settings: limits and answer threads
(`bot.settings.Settings` is made of these sections; config/articlebot.toml says
what each means)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

SCHEMES = ("postgresql://", "postgres://")


class ChatConfig(BaseModel):
    """Rate limits, the /reindex cooldown and the answer threads (bot/chat/service.py)."""

    # Where replicas keep what they must agree on (feedback, Slack event dedupe, rate
    # limits, followed threads, who rebuilds): unset, this process and data_dir's SQLite
    # file; "postgresql://user:password@host/db" shares it. A secret (it holds a password).
    state_url: SecretStr | None = None
    rate_limit_questions: int = Field(5, ge=1)
    rate_limit_seconds: float = Field(60.0, gt=0)
    rate_limit_channel_questions: int = Field(30, ge=1)
    # After a /reindex, the next one waits this long (0: no wait).
    reindex_cooldown_seconds: float = Field(300.0, ge=0)
    answer_threads: int = Field(4, ge=1)
    # Questions waiting for or in an answer thread, at most; past that askers are told the
    # bot is busy, instead of a queue that grows without end.
    answer_queue_max: int = Field(64, ge=1)
    # Follow-ups: later messages in a thread the bot answered in are answered without a
    # mention, read with the thread's earlier questions; a thread idle this long goes quiet.
    thread_followups: bool = True
    thread_idle_minutes: float = Field(60.0, gt=0)
    # In answer channels (slack_answer_channels, discord_answer_channels) every question is
    # answered in a thread of it; with this on, one the articles do not answer gets no reply.
    answer_channel_silent_abstain: bool = True
    # Announcements: each article a publish adds to the default collection (a build, a
    # sync, /reindex, a scheduled refresh) is posted once to these channels (Discord
    # channel IDs, Slack channel IDs; each platform posts to its own). Collections have
    # their own announce_channels. At most announce_max_per_refresh a publish, then "and N
    # more". A channel's first check records what is there without posting it, unless
    # announce_existing. Versions published by another process are seen within
    # announce_check_seconds.
    announce_channels: list[str] = Field(default_factory=list)
    announce_max_per_refresh: int = Field(5, ge=1, le=20)
    announce_existing: bool = False
    announce_check_seconds: float = Field(60.0, gt=0)

    @field_validator("announce_channels", mode="before")
    @classmethod
    def channel_ids_as_text(cls, channels: list[object]) -> list[str]:
        """Discord IDs may be written as numbers; both platforms' IDs compare as text."""
        return [str(c) for c in channels]

    @field_validator("state_url")
    @classmethod
    def postgres_only(cls, url: SecretStr | None) -> SecretStr | None:
        """Only PostgreSQL is shared state, in a URL psycopg can read; anything else is
        a typo to catch at start, in words that never repeat the URL (or its password)."""
        if url is None:
            return url
        if not url.get_secret_value().startswith(SCHEMES):
            raise ValueError("state_url: give a postgresql://… URL, or leave it unset")
        from psycopg import Error
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(url.get_secret_value())
        except Error:
            raise ValueError(
                "state_url: not a URL PostgreSQL can read (percent-encode special "
                "characters in the user and password: % as %25, @ as %40)"
            ) from None
        return url
