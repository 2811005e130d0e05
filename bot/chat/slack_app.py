"""The Slack app: `/ask`, mentions (answered in their thread), DMs, feedback
buttons, and `/reindex` and `/sources` for admins.

`create_slack_app` takes the chat service, the feedback store and the
settings and returns a Bolt `AsyncApp` without starting it; `articlebot serve
slack` runs it in Socket Mode or over HTTP. Listeners ack first, then work,
then `respond` / `say`, as Bolt expects.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncRespond, AsyncSay
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.answer.values import Answer, shorten
from bot.chat import messages
from bot.chat.feedback import FeedbackStore
from bot.chat.service import ChatService, Outcome, Reply
from bot.settings import Settings

log = logging.getLogger(__name__)

SECTION_LIMIT = 3000
CONTEXT_LIMIT = 3000
BLOCK_LIMIT = 50
TEXT_LIMIT = 40_000
QUOTE_CHARS = 600
MAX_SOURCES = 10
HOW_TO_ASK = messages.how_to_ask("/ask What happened?")
HELPFUL, NOT_HELPFUL = "feedback_helpful", "feedback_not_helpful"
# A user mention, `<@U123>` or `<@U123|name>`. The label cannot hold `<` or `>` (Slack
# escapes them), and excluding both keeps the match linear on hostile text.
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")


def escape(text: str) -> str:
    """Slack's three control characters, so article or user text can't ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> dict:
    """A text object that Slack shows as written: `verbatim` stops it from turning
    names, channels and URLs in article or user text into links or mentions."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str) -> dict:
    return {"type": "section", "text": mrkdwn(shorten(text, SECTION_LIMIT))}


def feedback_buttons(answer_id: str) -> dict:
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {
                "type": "button",
                "action_id": HELPFUL,
                "value": answer_id,
                "text": {"type": "plain_text", "text": "Helpful"},
            },
            {
                "type": "button",
                "action_id": NOT_HELPFUL,
                "value": answer_id,
                "text": {"type": "plain_text", "text": "Not helpful"},
            },
        ],
    }


def source_blocks(n: int, answer: Answer) -> list[dict]:
    passage = answer.sources[n - 1]
    article = passage.article
    title = escape(article.title)
    if article.source.startswith(("http://", "https://")):
        title = f"<{escape(article.source)}|{title}>"
    meta = " · ".join(
        filter(None, [f"*[{n}] {title}*", article.published, f"score {passage.score:.2f}"])
    )
    quote = escape(passage.quote(QUOTE_CHARS))
    return [
        {"type": "context", "elements": [mrkdwn(shorten(meta, CONTEXT_LIMIT))]},
        section(f"> {quote}"),
    ]


def format_answer(answer: Answer, answer_id: str) -> tuple[str, list[dict]]:
    """(fallback text, blocks): the short answer, then each source, then the buttons,
    all within Slack's limits."""
    notes = "".join(f"_{escape(note)}_\n" for note in answer.notes)
    if answer.abstained:
        text = shorten(f"{notes}{escape(answer.text)} {messages.NOT_FOUND_HINT}", SECTION_LIMIT)
        return text, [section(text), feedback_buttons(answer_id)]
    text = notes + answer.marked("*", escape)
    blocks = [section(text)]
    room = (BLOCK_LIMIT - 2) // 2  # the answer and the buttons take two
    for n in range(1, min(len(answer.sources), room, MAX_SOURCES) + 1):
        blocks += source_blocks(n, answer)
    blocks.append(feedback_buttons(answer_id))
    titles = "; ".join(escape(s.article.title) for s in answer.sources)
    return shorten(f"{text}\nSources: {titles}", TEXT_LIMIT), blocks


class RecentIds:
    """Event ids seen in the last `ttl` seconds, so a retried event is answered once."""

    def __init__(self, ttl: float = 3600, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        now = time.monotonic()
        while self._seen and (
            len(self._seen) > self.size or next(iter(self._seen.values())) < now - self.ttl
        ):
            self._seen.popitem(last=False)
        if event_id in self._seen:
            return False
        self._seen[event_id] = now
        return True


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client, with slack_sdk's own retries for 429s, 5xx and dropped connections."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base_url = (settings.slack_api_base_url or AsyncWebClient.BASE_URL).rstrip("/") + "/"
    retries = settings.slack_api_retries
    handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=retries),
        AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
        AsyncServerErrorRetryHandler(max_retry_count=retries),
    ]
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=handlers)


def create_slack_app(service: ChatService, feedback: FeedbackStore, settings: Settings) -> AsyncApp:
    """The Bolt app, not started."""
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app = AsyncApp(client=make_client(settings), signing_secret=secret)
    seen = RecentIds()

    def allowed(channel: str | None, channel_type: str | None = None) -> bool:
        allowlist = settings.slack_channel_allowlist
        return channel_type == "im" or not allowlist or channel in allowlist

    async def render(reply: Reply, user_id: str) -> tuple[str, list[dict]]:
        """(fallback text, blocks) for what the shared ask flow gave; an answer is
        recorded for the feedback buttons (in a thread: SQLite stays off the loop)."""
        if reply.outcome is not Outcome.ANSWERED or reply.answer is None:
            return reply.text, [section(reply.text)]
        answer_id = await asyncio.to_thread(
            feedback.record_answer, reply.answer, platform="slack", user_id=user_id
        )
        return format_answer(reply.answer, answer_id)

    async def ask_flow(question: str, user_id: str, channel: str) -> Reply:
        return await service.ask(
            question, f"slack:{user_id}", f"slack-channel:{channel}", HOW_TO_ASK
        )

    @app.middleware
    async def answer_each_event_once(body: dict, next_: Any) -> BoltResponse | None:
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id and not seen.first_time(event_id):
            log.info("skipping retried event %s", event_id)
            return BoltResponse(status=200, body="")  # acked, and no second answer
        return await next_()

    @app.command("/ask")
    async def ask(ack: Any, command: dict, respond: AsyncRespond) -> None:
        await ack()
        # a DM's id starts with D; its channel_name is only a display name
        channel_type = "im" if command.get("channel_id", "").startswith("D") else None
        if not allowed(command.get("channel_id"), channel_type):
            await respond(text=messages.NOT_THIS_CHANNEL, response_type="ephemeral")
            return
        user = command["user_id"]
        reply = await ask_flow(command.get("text", ""), user, command.get("channel_id", ""))
        if reply.outcome is Outcome.FAILED:
            await respond(text=reply.text, response_type="ephemeral")
            return
        text, blocks = await render(reply, user)
        visibility = "ephemeral" if settings.slack_ephemeral_answers else "in_channel"
        await respond(text=text, blocks=blocks, response_type=visibility, replace_original=False)

    async def answer_event(event: dict, say: AsyncSay) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return  # never answer bots (this one included), edits or joins
        if not allowed(event.get("channel"), event.get("channel_type")):
            return
        thread = event.get("thread_ts") or event["ts"]
        question = MENTION.sub(" ", event.get("text", ""))
        user = event.get("user", "")
        reply = await ask_flow(question, user, event.get("channel", ""))
        if reply.outcome is Outcome.FAILED:
            await say(text=reply.text, thread_ts=thread)
            return
        text, blocks = await render(reply, user)
        await say(text=text, blocks=blocks, thread_ts=thread)

    @app.event("app_mention")
    async def on_mention(event: dict, say: AsyncSay) -> None:
        await answer_event(event, say)

    @app.event("message")
    async def on_message(event: dict, say: AsyncSay) -> None:
        if event.get("channel_type") == "im":
            await answer_event(event, say)

    @app.action(HELPFUL)
    @app.action(NOT_HELPFUL)
    async def on_vote(ack: Any, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        stored = await asyncio.to_thread(
            feedback.vote,
            action["value"],
            user_id=body["user"]["id"],
            helpful=action["action_id"] == HELPFUL,
        )
        note = messages.THANKS_FOR_VOTE if stored else messages.VOTE_TOO_LATE
        await respond(text=note, response_type="ephemeral", replace_original=False)

    @app.command("/reindex")
    async def reindex(ack: Any, command: dict, respond: AsyncRespond) -> None:
        await ack()
        if command["user_id"] not in settings.slack_admin_user_ids:
            await respond(text=messages.only_admins("admins"), response_type="ephemeral")
            return
        if refusal := service.reindex_refusal():
            await respond(text=refusal, response_type="ephemeral")
            return
        text = await service.reindex_text("•", escape)
        await respond(text=shorten(text, SECTION_LIMIT), response_type="ephemeral")

    @app.command("/sources")
    async def sources(ack: Any, command: dict, respond: AsyncRespond) -> None:
        await ack()
        listing = service.sources_text_for(f"slack:{command['user_id']}", "•", escape)
        text = shorten(listing, SECTION_LIMIT)
        await respond(text=text, response_type="ephemeral")

    return app
