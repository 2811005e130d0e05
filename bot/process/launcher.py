"""Process concerns for the chat bots: build the core once, run the platform's
client, turn start-up failures into clear messages. The steps both bots share
(state, service and refresher up; ops server and signal handlers; everything
closed in reverse order) are `serving` and `running`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

from bot.chat.announce import Announcer
from bot.chat.service import ChatService
from bot.chat.slack.config import SlackConfig
from bot.chat.state import State
from bot.errors import LaunchError, MissingSecretError
from bot.ops import OpsServer
from bot.process.refresher import start_refresher
from bot.settings import Settings
from bot.wiring import make_embedder, make_reranker, open_answerer, open_state

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.chat.discord.client import ArticleBot

log = logging.getLogger(__name__)


def make_service(settings: Settings, platform: str, state: State) -> ChatService:
    """The chat service over every collection: the default one and each
    `[collections.NAME]`, each built first if it has no index yet and its index
    directory is the default one (a configured directory is the operator's to build)."""
    embedder = make_embedder(settings)
    embedder.bulk_with_torch = False  # a bot's /reindex and refreshes stay torch-free
    reranker = make_reranker(settings)  # one for every collection, as the embedder
    default = settings.index_dir is None
    answerer = open_answerer(settings, embedder, bootstrap=default, reranker=reranker)
    collections = {
        name: open_answerer(
            settings.for_collection(name),
            embedder,
            bootstrap=collection.index_dir is None,
            reranker=reranker,
        )
        for name, collection in settings.collections.items()
    }
    return ChatService(answerer, embedder, settings, platform, collections, state)


@contextmanager
def serving(settings: Settings, platform: str) -> Iterator[ChatService]:
    """The chat service over every collection, on its state, with the scheduled
    refresher; stopped and closed in reverse order however the bot ends."""
    state = open_state(settings)
    try:
        service = make_service(settings, platform, state)
        refresher = start_refresher(service)
        try:
            yield service
        finally:
            if refresher:
                refresher.stop()
            service.close()
    finally:
        state.close()


@asynccontextmanager
async def running(
    service: ChatService,
    connected: Callable[[], bool],
    stop: Callable[[], object],
    announcer: Announcer | None = None,
) -> AsyncIterator[None]:
    """The block runs the platform's client: SIGTERM and SIGINT call `stop`, and the
    health and metrics server (when `ops_port` is set) and the `announcer` (when it
    has channels) run alongside."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    ops = await start_ops(service.settings, service, connected)
    announcing = asyncio.create_task(announcer.run()) if announcer and announcer.wanted else None
    try:
        yield
    finally:
        if announcing:
            announcing.cancel()
        if ops:
            await ops.stop()


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
    with serving(settings, "discord") as service:
        bot = create_discord_bot(service)
        try:
            asyncio.run(_serve_discord(service, bot, token))
        except discord.LoginFailure:
            raise LaunchError(
                "Discord rejected the token; check DISCORD_TOKEN "
                "(Developer Portal > Bot > Reset Token)"
            ) from None
        except discord.PrivilegedIntentsRequired:
            raise LaunchError(
                "Discord refused a privileged intent; enable it in the Developer Portal "
                "or turn it off"
            ) from None
        except (OSError, aiohttp.ClientError) as exc:
            raise LaunchError(f"cannot reach Discord ({exc.__class__.__name__}: {exc})") from None
        except KeyboardInterrupt:
            log.info("stopped")


async def _serve_discord(service: ChatService, bot: ArticleBot, token: str) -> None:
    closing = lambda: asyncio.ensure_future(bot.close())  # noqa: E731
    async with running(service, lambda: bot.connected, closing), bot:
        await bot.start(token)


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
    with serving(settings, "slack") as service:
        asyncio.run(_serve_slack(service, host, port, socket_mode))


async def _granted_scopes(settings: Settings) -> str | None:
    """The bot token's scopes as Slack reports them; a clear error when Slack rejects
    the token."""
    from slack_sdk.errors import SlackApiError

    from bot.chat.slack.app import make_client

    try:
        auth = await make_client(settings.section(SlackConfig)).auth_test()
    except SlackApiError as exc:
        raise LaunchError(
            f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')}); "
            "copy the Bot User OAuth Token from the app's OAuth & Permissions page"
        ) from None
    return auth.headers.get("x-oauth-scopes")


async def _serve_slack(service: ChatService, host: str, port: int, socket_mode: bool) -> None:
    from aiohttp import web
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.chat.slack.announce import slack_announcer
    from bot.chat.slack.app import create_slack_app

    settings = service.settings
    app = create_slack_app(service, await _granted_scopes(settings))
    announcer = slack_announcer(service, app.client)
    stop = asyncio.Event()
    if socket_mode:
        handler = AsyncSocketModeHandler(app, _secret(settings.slack_app_token))
        connected = lambda: socket_mode_connected(handler)  # noqa: E731
        async with running(service, connected, stop.set, announcer):
            await handler.connect_async()
            log.info("connected to Slack in Socket Mode")
            await stop.wait()
            await handler.close_async()
    else:
        runner = web.AppRunner(app.web_app(path="/slack/events"))
        async with running(service, lambda: bool(runner.sites), stop.set, announcer):
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            log.info("listening on http://%s:%d/slack/events", host, port)
            await stop.wait()
            await runner.cleanup()
