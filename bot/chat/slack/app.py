"""The Slack app: `/ask`, mentions (answered in their thread), DMs, follow-ups in
threads it answered in, answer channels, feedback buttons, and `/reindex` and
`/sources` for admins. A channel asks, lists and rebuilds its own collection.

`create_slack_app` takes the chat service (which holds the settings and the
feedback store) and returns a Bolt `AsyncApp` without starting it; `articlebot serve
slack` runs it in Socket Mode or over HTTP. Listeners ack first, then work,
then `respond` / `say`, as Bolt expects.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncRespond, AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.answer.intent import summary_message
from bot.answer.records import shorten
from bot.chat import messages
from bot.chat.service import ChatService, Outcome, Reply
from bot.chat.slack.config import SlackConfig
from bot.chat.slack.keys import posted_key, thread_key
from bot.chat.slack.manifest import HISTORY_SCOPES
from bot.chat.slack.render import (
    HELPFUL,
    HOW_TO_ASK,
    NOT_HELPFUL,
    SECTION_LIMIT,
    format_answer,
    reindex_text,
    section,
    sources_text,
    voted_answer_ids,
)
from bot.chat.threads import looks_like_question, unasked_answer
from bot.settings import Settings

log = logging.getLogger(__name__)

# A user mention, `<@U123>` or `<@U123|name>`. The label cannot hold `<` or `>` (Slack
# escapes them), and excluding both keeps the match linear on hostile text.
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")


def make_client(config: SlackConfig) -> AsyncWebClient:
    """The Web API client, with slack_sdk's own retries for 429s, 5xx and dropped connections."""
    token = config.slack_bot_token.get_secret_value() if config.slack_bot_token else None
    base_url = (config.slack_api_base_url or AsyncWebClient.BASE_URL).rstrip("/") + "/"
    retries = config.slack_api_retries
    handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=retries),
        AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
        AsyncServerErrorRetryHandler(max_retry_count=retries),
    ]
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=handlers)


def with_granted_scopes(settings: Settings, granted: str | None) -> Settings:
    """The settings, with follow-ups and answer channels off when the token may read
    no channel's messages (`granted`: auth.test's x-oauth-scopes; None: not known).
    Logs once what is missing, and where to add it."""
    if granted is None:
        return settings
    scopes = {s.strip() for s in granted.split(",")}
    missing = [scope for scope in HISTORY_SCOPES if scope not in scopes]
    wanted = settings.thread_followups or settings.slack_answer_channels
    if not missing or not wanted:
        return settings
    if len(missing) < len(HISTORY_SCOPES):
        kinds = " or ".join(HISTORY_SCOPES[m] for m in missing)
        log.warning("no follow-ups or answer channels in %s: the app lacks %s", kinds, missing)
        return settings
    log.warning(
        "follow-ups in threads and answer channels are off: the app lacks the "
        "channels:history and groups:history scopes (add them and the message.channels and "
        "message.groups events, as config/slack-manifest.yml does, then reinstall the app)"
    )
    return settings.model_copy(update={"thread_followups": False, "slack_answer_channels": []})


def create_slack_app(service: ChatService, granted_scopes: str | None = None) -> AsyncApp:
    """The Bolt app of the chat service (and of its settings), not started; with what
    the bot token's `granted_scopes` (auth.test's) cannot do turned off."""
    settings = with_granted_scopes(service.settings, granted_scopes)
    config = settings.section(SlackConfig)
    signing = config.slack_signing_secret
    secret = signing.get_secret_value() if signing else None
    # Bolt's own filter would hide the bot's messages from it; this app reads them for the
    # thread of an /ask answer (follow_own_answer), and answers no message that has a bot_id.
    app = AsyncApp(
        client=make_client(config), signing_secret=secret, ignoring_self_events_enabled=False
    )
    register_listeners(app, SlackChat(service, settings, config))
    return app


def register_listeners(app: AsyncApp, chat: SlackChat) -> None:
    """Every listener of the app, each finding `chat` in its Bolt context."""

    async def provide_chat(context: AsyncBoltContext, next_: Any) -> BoltResponse | None:
        context[CHAT] = chat
        return await next_()

    app.middleware(provide_chat)
    app.middleware(answer_each_event_once)
    app.command("/ask")(ask)
    app.command("/summary")(summary)
    app.command("/reindex")(reindex)
    app.command("/sources")(sources)
    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
    app.action(HELPFUL)(on_vote)
    app.action(NOT_HELPFUL)(on_vote)
    app.error(on_listener_error)


CHAT = "articlebot_chat"  # where each listener finds the SlackChat in its context

# What an operator does about Slack's refusals of a reply (by Slack's error code)
REFUSAL_FIXES = {
    "not_in_channel": "invite the bot there (/invite @ArticleBot) or take the channel out of "
    "the settings",
    "channel_not_found": "the channel is gone, or private without the bot in it",
    "is_archived": "the channel is archived",
    "restricted_action": "a workspace admin restricted posting there",
}


async def on_listener_error(error: Exception, body: dict) -> None:
    """A listener that failed: a refusal by Slack is one warning naming the channel and
    the fix (nothing to trace in our code); anything else is logged with its traceback."""
    if not isinstance(error, SlackApiError):
        log.error("a Slack listener failed", exc_info=error)
        return
    event, channel = body.get("event") or {}, body.get("channel") or {}
    log_refusal(event.get("channel") or body.get("channel_id") or channel.get("id") or "?", error)


def log_refusal(channel: str, error: SlackApiError) -> None:
    """One warning for a post Slack refused: the channel, the error, the fix."""
    code = str(error.response.get("error", ""))
    fix = REFUSAL_FIXES.get(code, "Slack's API documentation names the error")
    log.warning("Slack refused a post in %s: %s (%s)", channel, code, fix)


@dataclass(frozen=True)
class SlackChat:
    """What every listener works with: the chat service, the settings, and the
    app's own section of them."""

    service: ChatService
    settings: Settings
    config: SlackConfig

    @staticmethod
    def of(context: AsyncBoltContext) -> SlackChat:
        return context[CHAT]

    def allowed(self, channel: str | None, channel_type: str | None = None) -> bool:
        allowlist = self.config.slack_channel_allowlist
        return channel_type == "im" or not allowlist or channel in allowlist

    def command_allowed(self, command: dict) -> bool:
        # a DM's id starts with D; its channel_name is only a display name
        channel_type = "im" if command.get("channel_id", "").startswith("D") else None
        return self.allowed(command.get("channel_id"), channel_type)

    async def render(
        self, reply: Reply, user_id: str, channel: str, thread: str = ""
    ) -> tuple[str, list[dict]]:
        """(fallback text, blocks) for what the shared ask flow gave; an answer is
        recorded, with where it was asked, for the feedback buttons (in a thread:
        SQLite stays off the loop)."""
        if reply.outcome is not Outcome.ANSWERED or reply.answer is None:
            return reply.text, [section(reply.text)]
        answer_id = await asyncio.to_thread(
            self.service.state.feedback.record_answer,
            reply.answer,
            platform="slack",
            user_id=user_id,
            channel=channel,
            thread=thread,
            collection=self.settings.collection_of(channel),
        )
        return format_answer(reply.answer, answer_id)


Send = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class Post:
    """Where a reply goes: the asker, the channel and thread, and how it is sent
    (the command's response_url, or a message in the thread); `send_failure` for
    the "sorry" note."""

    user: str
    channel: str
    thread: str
    send: Send
    send_failure: Send


async def send_reply(
    chat: SlackChat,
    reply: Reply,
    post: Post,
    followed: Callable[[list[dict]], list[str]] | None = None,
) -> None:
    """The one way every reply reaches Slack. `followed`: the keys under which later
    messages are follow-ups of this answer, from its blocks; remembered before the
    answer shows, so a quick follow-up counts."""
    if reply.outcome is Outcome.FAILED:
        await post.send_failure(text=reply.text)
        return
    text, blocks = await chat.render(reply, post.user, post.channel, post.thread)
    if followed is not None and reply.answer is not None:
        await chat.service.remember(followed(blocks), reply.answer)
    await post.send(text=text, blocks=blocks)


async def answer_each_event_once(
    body: dict, context: AsyncBoltContext, next_: Any
) -> BoltResponse | None:
    event_id = body.get("event_id")
    an_event = body.get("type") == "event_callback" and event_id
    events = SlackChat.of(context).service.state.events
    if an_event and not await asyncio.to_thread(events.first_time, event_id):
        log.info("skipping retried event %s", event_id)
        return BoltResponse(status=200, body="")  # acked, and no second answer
    return await next_()


async def summary(
    ack: Any, command: dict, respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """`/summary [words]`: `/ask` of the message it stands for ("summarize words")."""
    await ask(ack, {**command, "text": summary_message(command.get("text", ""))}, respond, context)


async def ask(ack: Any, command: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
    await ack()
    chat = SlackChat.of(context)
    service, settings = chat.service, chat.settings
    if not chat.command_allowed(command):
        await respond(text=messages.NOT_THIS_CHANNEL, response_type="ephemeral")
        return
    user, channel = command["user_id"], command.get("channel_id", "")
    reply = await service.ask(
        command.get("text", ""),
        f"slack:{user}",
        f"slack-channel:{channel}",
        HOW_TO_ASK,
        collection=settings.collection_of(channel),
    )
    visibility = "ephemeral" if chat.config.slack_ephemeral_answers else "in_channel"
    post = Post(
        user,
        channel,
        "",
        send=partial(respond, response_type=visibility, replace_original=False),
        send_failure=partial(respond, response_type="ephemeral"),
    )
    # response_url gives no timestamp: the thread is known when Slack shows the bot
    # its own message (to whichever replica), so the answer waits for it there
    followed = visibility == "in_channel" and settings.thread_followups
    await send_reply(chat, reply, post, posted_keys if followed else None)


def posted_keys(blocks: list[dict]) -> list[str]:
    return [posted_key(voted_answer_ids(blocks)[0])]


async def follow_own_answer(chat: SlackChat, event: dict, context: AsyncBoltContext) -> None:
    """Slack shows the bot the /ask answer it posted in a channel: its thread is
    now one the bot answered in."""
    if event.get("bot_id") != context.bot_id or event.get("thread_ts"):
        return
    ids = voted_answer_ids(event.get("blocks") or [])
    conversation = await chat.service.conversation([posted_key(i) for i in ids])
    if conversation is not None:
        await chat.service.keep(thread_key(event.get("channel", ""), event["ts"]), conversation)


async def answer_event(chat: SlackChat, event: dict, say: AsyncSay, unasked: bool = False) -> None:
    """Answer a message in its thread, read with the thread's earlier questions when
    the bot answered there before. `unasked`: a message in an answer channel, which
    gets nothing but an answer (silent_abstain: not even "not in the articles")."""
    if event.get("bot_id") or event.get("subtype"):
        return  # never answer bots (this one included), edits or joins
    service, settings = chat.service, chat.settings
    channel, channel_type = event.get("channel", ""), event.get("channel_type")
    if not chat.allowed(channel, channel_type):
        return
    thread = event.get("thread_ts") or event["ts"]
    followed = settings.thread_followups and channel_type != "im"
    conversation = await service.conversation([thread_key(channel, thread)])
    user = event.get("user", "")
    reply = await service.ask(
        MENTION.sub(" ", event.get("text", "")),
        f"slack:{user}",
        f"slack-channel:{channel}",
        HOW_TO_ASK,
        conversation if followed else None,
        settings.collection_of(channel),
    )
    if unasked and not unasked_answer(reply.answer, settings.answer_channel_silent_abstain):
        return
    in_thread = partial(say, thread_ts=thread)
    post = Post(user, channel, thread, send=in_thread, send_failure=in_thread)
    keys = [thread_key(channel, thread)]
    await send_reply(chat, reply, post, (lambda _: keys) if followed else None)


async def on_mention(event: dict, say: AsyncSay, context: AsyncBoltContext) -> None:
    await answer_event(SlackChat.of(context), event, say)


async def on_message(event: dict, say: AsyncSay, context: AsyncBoltContext) -> None:
    """DMs; in channels, follow-ups in threads the bot answered in, and questions in
    answer channels. A message that mentions the bot is app_mention's; one the bot
    posted itself may be an /ask answer, whose thread it then follows."""
    chat = SlackChat.of(context)
    if event.get("channel_type") == "im":
        await answer_event(chat, event, say)
        return
    if event.get("bot_id"):
        await follow_own_answer(chat, event, context)
        return
    text = event.get("text", "")
    if f"<@{context.bot_user_id}" in text or not looks_like_question(text):
        return
    channel, thread_ts = event.get("channel", ""), event.get("thread_ts")
    if thread_ts is not None:
        known = await chat.service.conversation([thread_key(channel, thread_ts)]) is not None
        if chat.settings.thread_followups and known:
            await answer_event(chat, event, say)
    elif channel in chat.config.slack_answer_channels:
        await answer_event(chat, event, say, unasked=True)


async def on_vote(
    ack: Any, body: dict, action: dict, respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    stored = await asyncio.to_thread(
        SlackChat.of(context).service.state.feedback.vote,
        action["value"],
        user_id=body["user"]["id"],
        helpful=action["action_id"] == HELPFUL,
    )
    note = messages.THANKS_FOR_VOTE if stored else messages.VOTE_TOO_LATE
    await respond(text=note, response_type="ephemeral", replace_original=False)


async def reindex(
    ack: Any, command: dict, respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    text = await reindex_outcome(SlackChat.of(context), command)
    await respond(text=shorten(text, SECTION_LIMIT), response_type="ephemeral")


async def reindex_outcome(chat: SlackChat, command: dict) -> str:
    """What /reindex tells its caller: why it may not rebuild, or what the rebuild
    did. The one reply is sent after all of it, so a refusal has no effect to race."""
    if command["user_id"] not in chat.config.slack_admin_user_ids:
        return messages.only_admins("admins")
    collection = chat.settings.collection_of(command.get("channel_id"))
    if refusal := await chat.service.claim_reindex(collection):
        return refusal
    return reindex_text(await chat.service.run_reindex(collection))


async def sources(
    ack: Any, command: dict, respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    chat = SlackChat.of(context)
    if not chat.command_allowed(command):
        await respond(text=messages.NOT_THIS_CHANNEL, response_type="ephemeral")
        return
    collection = chat.settings.collection_of(command.get("channel_id"))
    user = f"slack:{command['user_id']}"
    listing = sources_text(await chat.service.sources_for(user, collection))
    await respond(text=messages.whole_lines(listing, SECTION_LIMIT), response_type="ephemeral")
