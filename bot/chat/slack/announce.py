"""New articles posted to Slack announce channels (bot/chat/announce.py decides
what; this posts it, a message each in Block Kit). The bot must be a member of
each announce channel (/invite @ArticleBot); chat:write is all it needs."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.announce import Announcement, Announcer
from bot.chat.service import ChatService
from bot.chat.slack.app import log_refusal
from bot.chat.slack.render import format_announcement


def slack_channel(channel: str) -> bool:
    """A Slack channel id (C…, G…), not a Discord one (all digits)."""
    return not channel.isdigit()


def slack_announcer(service: ChatService, client: AsyncWebClient) -> Announcer:
    """The announcer of the service's Slack announce channels, posting with `client`."""

    async def post(news: Announcement) -> None:
        try:
            for text, blocks in format_announcement(news):
                await client.chat_postMessage(
                    channel=news.channel, text=text, blocks=blocks, unfurl_links=False
                )
        except SlackApiError as error:
            log_refusal(news.channel, error)

    return Announcer(service, post, owns=slack_channel)
