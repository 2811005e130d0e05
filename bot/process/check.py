"""`articlebot check`: a preflight that says, in one screen, what would stop a bot
from working before it is started: the settings, each collection's index and the
model it embeds with, each source, and each platform's token with the scopes or
intents the settings need. One line per finding; secrets are never shown.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.chat.discord.config import DiscordConfig
from bot.chat.slack.config import SlackConfig
from bot.settings import DEFAULT_COLLECTION, Settings
from index.errors import ArticleBotError
from index.sources.articles import is_url
from index.sources.redact import redact_url

log = logging.getLogger(__name__)

PLATFORMS = ("discord", "slack")
# Application flags that let a bot receive message content (Developer Portal > Bot).
DISCORD_MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)
# What a platform that cannot be reached raises (both clients use aiohttp).
UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True)
class Finding:
    """One line of the report: what was checked and what was found."""

    ok: bool
    text: str
    warning: bool = False  # works, but is likely not what the operator wants

    def line(self) -> str:
        kind = "PROBLEM" if not self.ok else "WARNING" if self.warning else "ok     "
        return f"{kind}  {self.text}"


def ok(text: str) -> Finding:
    return Finding(True, text)


def warning(text: str) -> Finding:
    """Not a problem (the exit status stays 0), but worth the operator's eye."""
    return Finding(True, text, warning=True)


def problem(text: str) -> Finding:
    return Finding(False, text)


def preflight(settings: Settings, platforms: list[str]) -> list[Finding]:
    """Every finding, in the order an operator would fix them."""
    findings = list(check_indexes(settings))
    findings += check_sources(settings)
    findings += check_state(settings)
    findings += check_announce_channels(settings)
    wanted = platforms or [p for p in PLATFORMS if _token(settings, p)]
    if not wanted:
        findings.append(problem("no chat platform: set DISCORD_TOKEN or SLACK_BOT_TOKEN"))
    checks = {"discord": check_discord, "slack": check_slack}
    for platform in wanted:
        findings += asyncio.run(checks[platform](settings))
    return findings


def _token(settings: Settings, platform: str) -> str:
    secret = settings.discord_token if platform == "discord" else settings.slack_bot_token
    return secret.get_secret_value() if secret else ""


def _collections(settings: Settings) -> Iterator[tuple[str, Settings]]:
    for name in [DEFAULT_COLLECTION, *settings.collections]:
        yield name, settings.for_collection(None if name == DEFAULT_COLLECTION else name)


# --- the indexes and the model -------------------------------------------------------------


def check_indexes(settings: Settings) -> Iterator[Finding]:
    """Each collection's index loads and embeds a question with its model."""
    from bot.wiring import load_index, make_embedder
    from index.storage.layout import has_index

    try:
        embedder = make_embedder(settings)
    except ArticleBotError as exc:
        yield problem(f"embedding model: {exc}")
        return
    for name, seen in _collections(settings):
        index_dir = seen.resolved_index_dir
        option = "" if name == DEFAULT_COLLECTION else f" --collection {name}"
        if not has_index(index_dir):
            yield problem(f"index {name}: none at {index_dir}; run articlebot index build{option}")
            continue
        try:
            index = load_index(seen, embedder, index_dir)
            index.encoder.encode(["Is the model working?"])
        except ArticleBotError as exc:
            yield problem(f"index {name}: {exc}")
            continue
        manifest = index.manifest
        yield ok(
            f"index {name}: version {manifest.version}, {len(index.articles)} article(s), "
            f"questions embedded with {index.encoder.backend}"
        )


# --- announcements ---------------------------------------------------------------------------

# A Discord channel ID is a snowflake (digits); a Slack one a letter and capitals or digits.
DISCORD_CHANNEL = re.compile(r"\d{15,21}")
SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{6,}")


def channel_id(channel: str) -> bool:
    """Does `channel` look like a Discord or a Slack channel ID?"""
    return bool(DISCORD_CHANNEL.fullmatch(channel) or SLACK_CHANNEL.fullmatch(channel))


def check_announce_channels(settings: Settings) -> Iterator[Finding]:
    """Each announce channel is a Discord or a Slack channel ID. A name ("#news")
    reaches Slack only while the channel keeps it, and Discord never."""
    for name, seen in _collections(settings):
        channels = seen.announce_channels
        wrong = [c for c in channels if not channel_id(c)]
        for channel in wrong:
            yield warning(
                f"announcements {name}: {channel!r} is not a channel ID; use the ID (Discord: "
                "Copy Channel ID; Slack: C… or G…, in the channel's details)"
            )
        if channels and not wrong:
            yield ok(f"announcements {name}: {len(channels)} channel(s)")


# --- the state replicas share -----------------------------------------------------------------


def check_state(settings: Settings) -> Iterator[Finding]:
    """With `state_url`, the database is reachable and its tables are made (or
    brought up to date, as a replica's start would)."""
    if settings.state_url is None:
        return
    if not verified_tls_or_local(settings.state_url.get_secret_value()):
        yield warning(
            "state: the state database is on another host without sslmode=verify-full: "
            "add ?sslmode=verify-full (and sslrootcert) to state_url, or the password and "
            "every question cross the network unverified"
        )
    from bot.wiring import open_state

    try:
        state = open_state(settings)
    except ArticleBotError as exc:
        yield problem(f"state: {exc}")
        return
    state.close()
    yield ok("state: the shared database answers and its tables are up to date")


def verified_tls_or_local(url: str) -> bool:
    """Whether a state_url reaches its database over a Unix socket or loopback, or
    with TLS whose certificate and host name are verified (sslmode=verify-full)."""
    from psycopg import Error
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Error:
        return True  # the settings check already refused it
    if parts.get("sslmode") == "verify-full":
        return True
    hosts = [h.strip() for h in str(parts.get("host") or "").split(",")]
    return all(_local_host(h) for h in hosts)


def _local_host(host: str) -> bool:
    if host in ("", "localhost") or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the sources ---------------------------------------------------------------------------


def check_sources(settings: Settings) -> Iterator[Finding]:
    """Each configured file or folder exists and each URL answers."""
    from index.config import FetchConfig
    from index.sources.fetch import Fetcher

    fetcher = Fetcher(settings.section(FetchConfig))
    for name, seen in _collections(settings):
        for source in seen.resolved_sources:
            yield _check_source(name, source, fetcher.get)


def _check_source(name: str, source: str, get: Callable[[str], object]) -> Finding:
    if not is_url(source):
        found = Path(source).exists()
        return (ok if found else problem)(
            f"source of {name}: {source}" + ("" if found else " does not exist")
        )
    try:
        get(source)
    except ArticleBotError as exc:
        return problem(f"source of {name}: {exc}")
    return ok(f"source of {name}: {redact_url(source)} answers")


# --- Slack ---------------------------------------------------------------------------------


async def check_slack(settings: Settings) -> list[Finding]:
    """The bot token is valid and holds every scope the manifest asks for; the
    signing secret or app token that the chosen mode needs is set and valid."""
    from bot.chat.slack.manifest import BOT_SCOPES

    if not _token(settings, "slack"):
        return [problem("slack: SLACK_BOT_TOKEN is not set")]
    granted = await _slack_scopes(settings)
    if isinstance(granted, Finding):
        return [granted]
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    findings = [
        problem(
            f"slack: the bot token lacks the scopes {', '.join(missing)}; add them under OAuth "
            "& Permissions (or from `articlebot slack manifest`) and reinstall the app"
        )
        if missing
        else ok("slack: bot token valid, with every scope the manifest asks for")
    ]
    return [*findings, await _slack_mode(settings)]


def _slack_client(settings: Settings) -> object:
    """The app's own Web API client, without retries: a check says at once what fails."""
    from bot.chat.slack.app import make_client

    config = settings.section(SlackConfig).model_copy(update={"slack_api_retries": 0})
    return make_client(config)


async def _slack_scopes(settings: Settings) -> set[str] | Finding:
    from slack_sdk.errors import SlackApiError

    try:
        auth = await _slack_client(settings).auth_test()
    except SlackApiError as exc:
        return problem(f"slack: Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')})")
    except UNREACHABLE as exc:
        return problem(f"slack: cannot reach Slack ({exc.__class__.__name__})")
    return {s.strip() for s in (auth.headers.get("x-oauth-scopes") or "").split(",")}


async def _slack_mode(settings: Settings) -> Finding:
    from slack_sdk.errors import SlackApiError

    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not app_token:
        if settings.slack_signing_secret and settings.slack_signing_secret.get_secret_value():
            return ok("slack: HTTP mode, signing secret set")
        return problem(
            "slack: set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"
        )
    try:
        await _slack_client(settings).apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        return problem(f"slack: Slack rejected SLACK_APP_TOKEN ({exc.response.get('error')})")
    except UNREACHABLE as exc:
        return problem(f"slack: cannot reach Slack ({exc.__class__.__name__})")
    return ok("slack: Socket Mode, app token valid")


# --- Discord -------------------------------------------------------------------------------


async def check_discord(settings: Settings) -> list[Finding]:
    """The token is valid and the application has the intents the settings use."""
    import discord

    from bot.chat.discord.client import apply_endpoints

    token = _token(settings, "discord")
    if not token:
        return [problem("discord: DISCORD_TOKEN is not set")]
    apply_endpoints(settings.section(DiscordConfig))
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        flags = (await client.application_info()).flags.value
    except discord.LoginFailure:
        return [problem("discord: Discord rejected DISCORD_TOKEN (Developer Portal > Bot)")]
    except (*UNREACHABLE, discord.HTTPException) as exc:
        return [problem(f"discord: cannot reach Discord ({exc.__class__.__name__})")]
    finally:
        await client.close()
    findings = [ok("discord: token valid")]
    if not settings.discord_guild_allowlist and not settings.discord_guild_id:
        findings.append(
            warning(
                "discord: discord_guild_allowlist is empty, so the bot answers in every "
                "server it is added to; set it, and turn off Public Bot in the Developer Portal"
            )
        )
    if settings.discord_message_content and not flags & DISCORD_MESSAGE_CONTENT_FLAGS:
        findings.append(
            problem(
                "discord: discord_message_content is on, but the Message Content intent is "
                "not enabled (Developer Portal > Bot > Privileged Gateway Intents)"
            )
        )
    return findings
