"""Process concerns for the chat bots: build the core once, run the platform's
client, turn start-up failures into clear messages."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from bot.chat.service import ChatService
from bot.chat.state import State
from bot.errors import LaunchError, MissingSecretError
from bot.ops import OpsServer
from bot.refresher import start_refresher
from bot.settings import Settings
from bot.wiring import make_embedder, open_answerer, open_state

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = logging.getLogger(__name__)


def make_service(settings: Settings, platform: str, state: State) -> ChatService:
    """The chat service over every collection: the default one and each
    `[collections.NAME]`, each built first if it has no index yet and its index
    directory is the default one (a configured directory is the operator's to build)."""
    embedder = make_embedder(settings)
    embedder.bulk_with_torch = False  # a bot's /reindex and refreshes stay torch-free
    answerer = open_answerer(settings, embedder, bootstrap=settings.index_dir is None)
    collections = {
        name: open_answerer(
            settings.for_collection(name), embedder, bootstrap=collection.index_dir is None
        )
        for name, collection in settings.collections.items()
    }
    return ChatService(answerer, embedder, settings, platform, collections, state)


async def start_ops(settings: Settings, service: ChatService, connected) -> OpsServer | None:
    """The health and metrics server, when `ops_port` is set."""
    if settings.ops_port is None:
        return None
    server = OpsServer(
        service.metrics, lambda: service.health(connected()), settings.ops_host, settings.ops_port
    )
    await server.start()
    return server


def run_discord(settings: Settings) -> None:
    """Run the Discord bot until interrupted."""
    import aiohttp
    import discord

    from bot.chat.discord.client import create_discord_bot

    token = settings.discord_token.get_secret_value() if settings.discord_token else ""
    if not token:
        raise MissingSecretError("set DISCORD_TOKEN (or discord_token in the settings file)")
    state = open_state(settings)
    service = make_service(settings, "discord", state)
    bot = create_discord_bot(service, settings)
    refresher = start_refresher(service)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
        ops = await start_ops(settings, service, lambda: bot.connected)
        try:
            async with bot:
                await bot.start(token)
        finally:
            if ops:
                await ops.stop()

    try:
        asyncio.run(main())
    except discord.LoginFailure:
        raise LaunchError(
            "Discord rejected the token; check DISCORD_TOKEN (Developer Portal > Bot > Reset Token)"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise LaunchError(
            "Discord refused a privileged intent; enable it in the Developer Portal or turn it off"
        ) from None
    except (OSError, aiohttp.ClientError) as exc:
        raise LaunchError(f"cannot reach Discord ({exc.__class__.__name__}: {exc})") from None
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        if refresher:
            refresher.stop()
        service.close()
        state.close()


def socket_mode_connected(handler: AsyncSocketModeHandler) -> bool:
    """Is the Socket Mode websocket open now (slack_sdk replaces it when it drops)?"""
    session = handler.client.current_session
    return bool(session is not None and not session.closed)


def _secret(value: object) -> str:
    return value.get_secret_value() if value is not None else ""  # type: ignore[attr-defined]


def run_slack(settings: Settings, host: str, port: int) -> None:
    """Run the Slack app until interrupted: Socket Mode with an app-level token,
    else HTTP on host:port at /slack/events."""
    if not _secret(settings.slack_bot_token):
        raise MissingSecretError("set SLACK_BOT_TOKEN (or slack_bot_token in the settings file)")
    socket_mode = bool(_secret(settings.slack_app_token))
    if not socket_mode and not _secret(settings.slack_signing_secret):
        raise MissingSecretError(
            "set SLACK_SIGNING_SECRET for HTTP mode, or SLACK_APP_TOKEN for Socket Mode"
        )
    state = open_state(settings)
    service = make_service(settings, "slack", state)
    refresher = start_refresher(service)
    try:
        asyncio.run(_serve_slack(settings, service, host, port, socket_mode))
    finally:
        if refresher:
            refresher.stop()
        service.close()
        state.close()


async def _serve_slack(
    settings: Settings,
    service: ChatService,
    host: str,
    port: int,
    socket_mode: bool,
) -> None:
    from aiohttp import web
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.errors import SlackApiError

    from bot.chat.slack.app import create_slack_app, make_client, with_granted_scopes

    try:
        auth = await make_client(settings).auth_test()
    except SlackApiError as exc:
        raise LaunchError(
            f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')}); "
            "copy the Bot User OAuth Token from the app's OAuth & Permissions page"
        ) from None
    settings = with_granted_scopes(settings, auth.headers.get("x-oauth-scopes"))
    app = create_slack_app(service, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if socket_mode:
        handler = AsyncSocketModeHandler(app, _secret(settings.slack_app_token))
        await handler.connect_async()
        log.info("connected to Slack in Socket Mode")
        ops = await start_ops(settings, service, lambda: socket_mode_connected(handler))
        await stop.wait()
        await handler.close_async()
    else:
        runner = web.AppRunner(app.web_app(path="/slack/events"))
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("listening on http://%s:%d/slack/events", host, port)
        ops = await start_ops(settings, service, lambda: bool(runner.sites))
        await stop.wait()
        await runner.cleanup()
    if ops:
        await ops.stop()
