"""The Slack app manifest: what the app registers (commands, events), the scopes
those need, and interactivity for the vote buttons, for HTTP or Socket Mode.

`articlebot slack manifest` prints it; `config/slack-manifest.yml` is its output
for HTTP mode. Tests hold it to the app: every command and event listed here is
handled by the app `create_slack_app` builds.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

PLACEHOLDER_URL = "https://articlebot.example.com"
EVENTS_PATH = "/slack/events"


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # at most 100 characters (Slack's limit)
    usage_hint: str | None = None


COMMANDS = (
    Command(
        "/ask",
        "Ask a question about the articles",
        "When was the International Space Station launched?",
    ),
    Command(
        "/summary",
        "The gist of an article: its title and a few of its sentences",
        "[a few words of its title]",
    ),
    Command("/sources", "List the indexed articles"),
    Command("/reindex", "Rebuild the index from the configured sources (admins only)"),
)
# message.channels / message.groups: follow-ups in threads, answer channels
BOT_EVENTS = ("app_mention", "message.im", "message.channels", "message.groups")
# What the app needs to see messages that do not mention it (follow-ups, answer channels).
HISTORY_SCOPES = {"channels:history": "public channels", "groups:history": "private channels"}
BOT_SCOPES = ("app_mentions:read", "chat:write", "commands", "im:history", *HISTORY_SCOPES)

HEADER = """\
# Slack app manifest for ArticleBot, printed by `articlebot slack manifest{options}`.
# Create the app from it at https://api.slack.com/apps -> Create New App -> From an
# app manifest; after a change, paste it into the app's "App Manifest" page.
{mode}
#
# Scopes: app_mentions:read and chat:write for mentions and answers, commands for
# /ask, /summary, /sources and /reindex, im:history for direct messages, channels:history and
# groups:history for follow-ups in threads and answer channels (public, private).
# `articlebot check` says which of them a bot token lacks.
"""
HTTP_NOTE = """\
# HTTP mode: Slack sends events, commands and button clicks to
#   {url}
# which must reach `articlebot serve slack --host ... --port ...` (path /slack/events)."""
SOCKET_NOTE = """\
# Socket Mode: no public address; create an app-level token with connections:write
# and set SLACK_APP_TOKEN."""


def events_url(url: str) -> str:
    """The request URL for a public address: `url`, ending in /slack/events."""
    url = url.rstrip("/")
    return url if url.endswith(EVENTS_PATH) else url + EVENTS_PATH


def manifest(url: str | None = None, *, socket_mode: bool = False) -> dict:
    """The manifest as a dict: for Socket Mode, or HTTP to `url` (a placeholder when None)."""
    request_url = None if socket_mode else events_url(url or PLACEHOLDER_URL)
    with_url = {} if socket_mode else {"url": request_url}
    with_request_url = {} if socket_mode else {"request_url": request_url}
    commands = [
        {
            "command": c.name,
            **with_url,
            "description": c.description,
            **({"usage_hint": c.usage_hint} if c.usage_hint else {}),
            "should_escape": False,
        }
        for c in COMMANDS
    ]
    return {
        "display_information": {
            "name": "ArticleBot",
            "description": "Answers questions about news articles, quoting and citing the passage.",
            "background_color": "#2c3e50",
        },
        "features": {
            "bot_user": {"display_name": "ArticleBot", "always_online": True},
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {**with_request_url, "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, **with_request_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(url: str | None = None, *, socket_mode: bool = False) -> str:
    """The manifest as YAML, with a header saying how to use it."""
    options = " --socket-mode" if socket_mode else (f" --url {url}" if url else "")
    note = SOCKET_NOTE if socket_mode else HTTP_NOTE.format(url=events_url(url or PLACEHOLDER_URL))
    body = yaml.safe_dump(
        manifest(url, socket_mode=socket_mode), sort_keys=False, allow_unicode=True, width=100
    )
    return HEADER.format(options=options, mode=note) + body
