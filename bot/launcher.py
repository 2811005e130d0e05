"""Process concerns for the chat bots: build the core once, run the platform's
client, turn start-up failures into clear messages."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.runtime import make_answerer, make_embedder, open_index
from bot.service import ChatService
from bot.settings import Settings

log = logging.getLogger(__name__)


class LaunchError(Exception):
    """The bot cannot start; the message says why and what to change."""


class MissingSecretError(LaunchError):
    """A token or secret the platform needs is not set."""


def make_service(settings: Settings) -> ChatService:
    embedder = make_embedder(settings)
    index = open_index(settings, embedder, bootstrap=settings.index_dir is None)
    return ChatService(make_answerer(settings, embedder, index), settings)


def run_discord(settings: Settings) -> None:
    """Run the Discord bot until interrupted."""
    import aiohttp
    import discord

    from bot.discord_bot import create_discord_bot

    token = settings.discord_token.get_secret_value() if settings.discord_token else ""
    if not token:
        raise MissingSecretError("set DISCORD_TOKEN (or discord_token in the settings file)")
    service = make_service(settings)
    bot = create_discord_bot(service, settings)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
        async with bot:
            await bot.start(token)

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
        service.close()
