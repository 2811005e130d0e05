"""The Discord bot: answers mentions, DMs and `/ask`, with `/reindex` and `/sources`,
and Helpful / Not helpful buttons under each answer. With the Message Content intent,
also follow-ups (in a thread it answered in, or in reply to its answer) and answer
channels (every question answered in a thread the bot opens for it).

`create_discord_bot` takes the chat service (which holds the settings and the
feedback store) and returns the client without starting it; `articlebot serve discord` runs
it. Needs no privileged intent for mentions, DMs and commands: Discord shows a bot the
text of DMs and of messages that mention it even without Message Content.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys

import discord
import yarl
from discord import app_commands

from bot.answer.followup import Conversation
from bot.answer.records import Answer, shorten
from bot.chat import messages
from bot.chat.announce import Announcement, Announcer
from bot.chat.discord.commands import (
    ServerCheckedTree,
    VoteButton,
    register_commands,
    send_private,
    vote_buttons,
)
from bot.chat.discord.config import DiscordConfig
from bot.chat.discord.keys import conversation_keys, home_channel_id, message_key, thread_key
from bot.chat.discord.render import (
    HOW_TO_ASK,
    NO_MENTIONS,
    Piece,
    Post,
    format_announcement,
    format_answer,
    on_last,
)
from bot.chat.service import ChatService, Outcome, Reply
from bot.chat.threads import looks_like_question, unasked_answer

log = logging.getLogger(__name__)

# What the bot needs in a channel: read it, answer there and in threads, open a thread
# on a question in an answer channel, embed sources, and see the message it replies to.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")
THREAD_NAME_LIMIT = 100


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def apply_endpoints(config: DiscordConfig) -> None:
    """Point discord.py at another REST API and gateway (a proxy, or a test's fake).
    discord.py keeps both as class attributes, so this is the one place that sets them."""
    if config.discord_api_base_url:
        discord.http.Route.BASE = config.discord_api_base_url.rstrip("/")
    if config.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.discord_gateway_url)


def in_channel(channel: discord.abc.Messageable, question: discord.Message | None = None) -> Post:
    """Post an answer's pieces in `channel`, the first in reply to `question` if given."""

    async def post(n: int, piece: Piece, view: discord.ui.View) -> discord.Message:
        options = {"embeds": piece.embeds, "allowed_mentions": NO_MENTIONS, "view": view}
        if n == 0 and question is not None:
            return await question.reply(piece.content, **options)
        return await channel.send(piece.content, **options)

    return post


# What an operator does about Discord's refusals of a reply (by Discord's JSON error code)
REFUSAL_FIXES = {
    50013: "give the bot Send Messages, Send Messages in Threads, Embed Links and Read "
    "Message History in that channel",
    50001: "the bot cannot see that channel: give it View Channel there",
    10003: "the channel is gone",
    10008: "the message it replied to is gone",
}


class ArticleBot(discord.Client):
    """A discord.py client with the slash commands on its own CommandTree."""

    def __init__(self, service: ChatService, config: DiscordConfig, **options: object) -> None:
        intents = discord.Intents.default()
        # privileged and off by default: mentions and DMs carry their text without it
        self.config = config
        intents.message_content = config.discord_message_content
        # a text bot: no voice, so no warnings about voice libraries at start
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **options)
        self.service = service
        self.feedback = service.state.feedback
        self.settings = service.settings
        self.tree = ServerCheckedTree(self)
        self.tree.on_error = self.on_app_command_error
        self.gateway_up = False  # a live gateway session: READY or RESUMED, not since lost
        self.announcer = Announcer(service, self.announce, owns=str.isdigit)
        self.announcing: asyncio.Task | None = None
        register_commands(self)

    @property
    def connected(self) -> bool:
        """Is the bot on the gateway now (for /healthz)? `is_ready` stays true through
        a dropped connection; this follows each disconnect and resume."""
        return self.gateway_up and not self.is_closed()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton)  # votes on answers sent before a restart
        if self.announcer.wanted:  # logged in: the REST API takes posts from here on
            self.announcing = asyncio.create_task(self.announcer.run(), name="announcer")
        config = self.config
        wanted = self.settings.thread_followups or config.discord_answer_channels
        if wanted and not config.discord_message_content:
            log.info(
                "follow-ups in threads and answer channels are off: they need the Message "
                "Content intent (turn it on in the Developer Portal, Bot > Privileged Gateway "
                "Intents, then set discord_message_content = true)"
            )
        if not self.allowed_guilds():
            log.warning(
                "discord_guild_allowlist is empty: the bot answers in every server it is "
                "added to; set it, and turn off Public Bot in the Developer Portal"
            )
        guild_id = self.config.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    def allowed_guilds(self) -> frozenset[int]:
        """The servers the bot may be in; empty means any."""
        config = self.config
        extra = {config.discord_guild_id} if config.discord_guild_id else set()
        return frozenset(config.discord_guild_allowlist) | extra

    def allowed_guild(self, guild_id: int | None) -> bool:
        allowed = self.allowed_guilds()
        return guild_id is None or not allowed or guild_id in allowed

    async def close(self) -> None:
        if self.announcing is not None:
            self.announcing.cancel()
        await super().close()

    async def announce(self, news: Announcement) -> None:
        """New articles in an announce channel: a message (an embed) each, then how
        many more. The channel is posted to by id, so it need not be in this shard."""
        channel = self.get_partial_messageable(int(news.channel))
        try:
            for piece in format_announcement(news):
                await channel.send(piece.content, embeds=piece.embeds, allowed_mentions=NO_MENTIONS)
        except (discord.Forbidden, discord.NotFound) as error:
            log_refusal(news.channel, error)

    async def on_ready(self) -> None:
        self.gateway_up = True
        log.info("connected to Discord as %s, in %d server(s)", self.user, len(self.guilds))

    async def on_resumed(self) -> None:
        self.gateway_up = True
        log.info("gateway session resumed")

    async def on_disconnect(self) -> None:
        self.gateway_up = False

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.leave_if_not_allowed(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.leave_if_not_allowed(guild)

    async def leave_if_not_allowed(self, guild: discord.Guild) -> None:
        """Someone added the bot to a server it is not for: leave it at once."""
        if not self.allowed_guild(guild.id):
            log.warning("leaving server %s: it is not in discord_guild_allowlist", guild.id)
            await guild.leave()

    def allowed_channel(self, channel_id: int | None, in_guild: bool) -> bool:
        allowlist = self.config.discord_channel_allowlist
        return not in_guild or not allowlist or channel_id in allowlist

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return  # never answer bots, this one included: no loops
        in_guild = not isinstance(message.channel, discord.DMChannel)
        if not self.allowed_guild(message.guild.id if message.guild else None):
            return
        if not self.allowed_channel(home_channel_id(message.channel), in_guild):
            return
        question = re.sub(rf"<@!?{self.user.id}>", " ", message.content)
        if not in_guild or self.user in message.mentions:
            await self.answer_message(message, question)
        elif self.config.discord_message_content and looks_like_question(question):
            await self.answer_unaddressed(message, question)

    async def answer_unaddressed(self, message: discord.Message, question: str) -> None:
        """A question nobody addressed to the bot: a follow-up in a thread or reply chain
        it answered in, or a question in an answer channel (answered in a new thread)."""
        if self.settings.thread_followups and (
            await self.conversation_of(message) is not None or self.replies_to_me(message)
        ):
            await self.answer_message(message, question)
        elif message.channel.id in self.config.discord_answer_channels:
            await self.answer_in_new_thread(message, question)

    def replies_to_me(self, message: discord.Message) -> bool:
        """A reply to one of this bot's answers (readable only with Message Content)."""
        resolved = message.reference.resolved if message.reference else None
        return isinstance(resolved, discord.Message) and resolved.author == self.user

    async def conversation_of(self, message: discord.Message) -> Conversation | None:
        """The conversation a message continues: of the thread it is in, or of the
        bot's answer it replies to, when the bot answered there and it is not idle."""
        return await self.service.conversation(conversation_keys(message))

    async def reply_to(self, message: discord.Message, question: str) -> Reply:
        """The shared ask flow for a message, read in the conversation it continues,
        answered from its channel's collection."""
        user, channel = f"discord:{message.author.id}", f"discord-channel:{message.channel.id}"
        reply = await self.service.admit(user, channel)
        if reply is None:
            followups = self.settings.thread_followups
            conversation = await self.conversation_of(message) if followups else None
            collection = self.settings.collection_of(home_channel_id(message.channel))
            async with message.channel.typing():
                reply = await self.service.reply(question, HOW_TO_ASK, conversation, collection)
        return reply

    async def answer_message(self, message: discord.Message, question: str) -> None:
        """The shared ask flow, rendered as a reply to the message."""
        reply = await self.reply_to(message, question)
        if reply.outcome is not Outcome.ANSWERED or reply.answer is None:
            await message.reply(reply.text, allowed_mentions=NO_MENTIONS)
            return
        await self.post_reply(message, reply.answer)

    async def post_reply(self, message: discord.Message, answer: Answer) -> None:
        """The answer in reply to the question's message, followed as a conversation:
        the thread it is in before the answer shows (a quick follow-up there counts),
        the answer's messages, which a reply continues, once they exist."""
        if not self.settings.thread_followups:
            await self.send_answer(
                in_channel(message.channel, message), answer, message.author.id, message.channel
            )
            return
        earlier = await self.conversation_of(message)
        if isinstance(message.channel, discord.Thread):
            await self.service.remember([thread_key(message.channel.id)], answer, earlier)
        sent = await self.send_answer(
            in_channel(message.channel, message), answer, message.author.id, message.channel
        )
        await self.service.remember([message_key(m.id) for m in sent], answer, earlier)

    async def answer_in_new_thread(self, message: discord.Message, question: str) -> None:
        """In an answer channel: the answer in a thread the bot opens on the question;
        nothing else (unasked_answer), so the channel is not filled with notes."""
        reply = await self.reply_to(message, question)
        answer = unasked_answer(reply.answer, self.settings.answer_channel_silent_abstain)
        if answer is None:
            return
        try:
            thread = await message.create_thread(name=shorten(question.strip(), THREAD_NAME_LIMIT))
        except discord.Forbidden:
            log.warning(
                "cannot open a thread in channel %s: give the bot Create Public Threads "
                "there; answering in the channel instead",
                message.channel.id,
            )
            await self.post_reply(message, answer)
            return
        if self.settings.thread_followups:  # before the answer shows, so a quick follow-up counts
            await self.service.remember([thread_key(thread.id)], answer)
        await self.send_answer(in_channel(thread), answer, message.author.id, thread)

    async def send_answer(
        self, post: Post, answer: Answer, asker_id: int, channel: object | None
    ) -> list[discord.Message]:
        """Every answer's one way out, wherever it was asked: its messages
        (render.format_answer), each posted by `post`, the last with the vote buttons."""
        pieces = format_answer(answer)
        views = on_last(pieces, await self.vote_view(answer, asker_id, channel))
        pairs = enumerate(zip(pieces, views, strict=True))
        posted = [await post(n, piece, view) for n, (piece, view) in pairs]
        return [message for message in posted if message is not None]

    async def vote_view(
        self, answer: Answer, user_id: int, channel: object | None
    ) -> discord.ui.View:
        """The answer recorded with where it was asked (in a worker thread: SQLite stays
        off the event loop), and the buttons that vote on it, for its last message."""
        thread = channel if isinstance(channel, discord.Thread) else None
        where = home_channel_id(channel)
        answer_id = await asyncio.to_thread(
            self.feedback.record_answer,
            answer,
            platform="discord",
            user_id=str(user_id),
            channel=str(where or ""),
            thread=str(thread.id if thread else ""),
            collection=self.settings.collection_of(where),
        )
        return vote_buttons(answer_id)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("slash command failed", exc_info=error)
        await send_private(interaction, messages.SORRY)

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        """An event handler that failed: Discord refusing a reply (no permission, the
        channel gone) is one warning naming the channel and the fix; anything else is
        logged with its traceback, as discord.py would."""
        error = sys.exc_info()[1]
        if not isinstance(error, discord.Forbidden | discord.NotFound):
            log.exception("%s failed", event_method)
            return
        channel = getattr(args[0], "channel", None) if args else None
        log_refusal(getattr(channel, "id", "?"), error)


def log_refusal(channel: object, error: discord.HTTPException) -> None:
    """One warning for a post Discord refused: the channel, the error, the fix."""
    fix = REFUSAL_FIXES.get(error.code, "Discord's API documentation names the error")
    log.warning("Discord refused a post in channel %s: %s (%s)", channel, error.text, fix)


def create_discord_bot(service: ChatService, **options: object) -> ArticleBot:
    """The Discord client of the chat service (and of its settings), not started.
    `options` go to discord.Client (e.g. timeouts). With `discord_shard_count`,
    discord.py's AutoShardedClient runs this process's shards."""
    config = service.settings.section(DiscordConfig)
    apply_endpoints(config)
    if config.discord_shard_count is None:
        return ArticleBot(service, config, **options)
    shards = {"shard_count": config.discord_shard_count}
    if config.discord_shard_ids:
        shards["shard_ids"] = config.discord_shard_ids  # type: ignore[assignment]
    return ShardedArticleBot(service, config, **shards, **options)


class ShardedArticleBot(ArticleBot, discord.AutoShardedClient):
    """ArticleBot over some of the bot's shards (one gateway connection each)."""
