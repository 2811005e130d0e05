"""The Discord bot: answers mentions, DMs and `/ask`, with `/reindex` and `/sources`,
and Helpful / Not helpful buttons under each answer. With the Message Content intent,
also follow-ups (in a thread it answered in, or in reply to its answer) and answer
channels (every question answered in a thread the bot opens for it).

`create_discord_bot` takes the chat service (which holds the feedback store) and the
settings and returns the client without starting it; `articlebot serve discord` runs
it. Needs no privileged intent for mentions, DMs and commands: Discord shows a bot the
text of DMs and of messages that mention it even without Message Content.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

import discord
import yarl
from discord import app_commands

from bot.answer.followup import Conversation
from bot.answer.values import Answer, Passage, shorten
from bot.chat import messages
from bot.chat.service import ChatService, Outcome
from bot.chat.service import Reply as ServiceReply
from bot.chat.threads import looks_like_question, unasked_answer
from bot.settings import Settings

log = logging.getLogger(__name__)

TEXT_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TITLE_LIMIT = 256
EMBEDS_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
QUOTE_CHARS = 600
HOW_TO_ASK = messages.how_to_ask("/ask question: What happened?")
NO_MENTIONS = discord.AllowedMentions.none()
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


@dataclass
class Reply:
    """One Discord message: text and embeds within the platform's limits."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at another REST API and gateway (a proxy, or a test's fake).
    discord.py keeps both as class attributes, so this is the one place that sets them."""
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def safe_text(text: str) -> str:
    """Article or user text shown by the bot as written: its markdown (masked links,
    spoilers, headings, emphasis) escaped, and mentions defused even before
    allowed_mentions (which stops the pings) is applied. Bare URLs stay links."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, line or word breaks."""
    pieces = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def source_embed(n: int, passage: Passage) -> discord.Embed:
    article = passage.article
    url = article.source if article.source.startswith(("http://", "https://")) else None
    quote = passage.quote(QUOTE_CHARS)
    embed = discord.Embed(
        title=shorten(f"[{n}] {safe_text(article.title)}", EMBED_TITLE_LIMIT),
        url=url,
        description=shorten(f"> {safe_text(quote)}", EMBED_DESCRIPTION_LIMIT),
    )
    footer = " · ".join(filter(None, [article.published, f"score {passage.score:.2f}"]))
    embed.set_footer(text=footer)
    return embed


def format_answer(answer: Answer) -> list[Reply]:
    """The short answer first, then one embed per source, split over as many
    messages as Discord's limits need."""
    notes = "".join(f"-# {safe_text(note)}\n" for note in answer.notes)
    if answer.abstained:
        text = f"{notes}{safe_text(answer.text)} {messages.NOT_FOUND_HINT}"
        return [Reply(shorten(text, TEXT_LIMIT))]
    replies = [Reply(piece) for piece in split_text(notes + answer.marked("**", safe_text))]
    batches: list[list[discord.Embed]] = [[]]
    for n, passage in enumerate(answer.sources, 1):
        embed, batch = source_embed(n, passage), batches[-1]
        if (
            len(batch) == EMBEDS_PER_MESSAGE
            or sum(map(len, batch)) + len(embed) > EMBEDS_TOTAL_LIMIT
        ):
            batches.append(batch := [])
        batch.append(embed)
    replies[-1].embeds = batches[0]
    return replies + [Reply(embeds=batch) for batch in batches[1:]]


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"articlebot:vote:(?P<answer_id>[0-9a-f]{32}):(?P<helpful>[01])",
):
    """Helpful or Not helpful under an answer. The custom id carries the answer's id,
    so a button keeps working after the bot restarts (add_dynamic_items)."""

    def __init__(self, answer_id: str, helpful: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Helpful" if helpful else "Not helpful",
                style=discord.ButtonStyle.secondary,
                custom_id=f"articlebot:vote:{answer_id}:{int(helpful)}",
            )
        )
        self.answer_id, self.helpful = answer_id, helpful

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VoteButton:
        return cls(match["answer_id"], match["helpful"] == "1")

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, ArticleBot)
        stored = await asyncio.to_thread(
            bot.feedback.vote,
            self.answer_id,
            user_id=str(interaction.user.id),
            helpful=self.helpful,
        )
        await send_private(
            interaction, messages.THANKS_FOR_VOTE if stored else messages.VOTE_TOO_LATE
        )


def thread_key(channel_id: int) -> str:
    return f"discord:thread:{channel_id}"


def message_key(message_id: int) -> str:
    return f"discord:message:{message_id}"


def conversation_keys(message: discord.Message) -> list[str]:
    """Where a message may continue a conversation: the thread it is in, the message
    it replies to."""
    keys = [thread_key(message.channel.id)]
    if message.reference and message.reference.message_id:
        keys.append(message_key(message.reference.message_id))
    return keys


def home_channel_id(channel: object, fallback: int | None = None) -> int | None:
    """The channel a message or command counts as in, for the allowlist, the collection
    and the feedback record: a thread's parent; `fallback` when the channel is unknown."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return getattr(channel, "id", fallback)


def asked_in(interaction: discord.Interaction) -> int | None:
    """The channel a command counts as used in (home_channel_id)."""
    return home_channel_id(interaction.channel, interaction.channel_id)


def vote_buttons(answer_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, helpful=True))
    view.add_item(VoteButton(answer_id, helpful=False))
    return view


def on_last(pieces: list[Reply], view: discord.ui.View) -> list[discord.ui.View]:
    """The view for each message of an answer: only its last message carries it."""
    return [discord.utils.MISSING] * (len(pieces) - 1) + [view]


class ArticleBot(discord.Client):
    """A discord.py client with the slash commands on its own CommandTree."""

    def __init__(
        self,
        service: ChatService,
        settings: Settings,
        **options: object,
    ) -> None:
        intents = discord.Intents.default()
        # privileged and off by default: mentions and DMs carry their text without it
        intents.message_content = settings.discord_message_content
        # a text bot: no voice, so no warnings about voice libraries at start
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **options)
        self.service = service
        self.feedback = service.state.feedback
        self.settings = settings
        self.tree = ServerCheckedTree(self)
        self.tree.on_error = self.on_app_command_error
        self.gateway_up = False  # a live gateway session: READY or RESUMED, not since lost
        register_commands(self)

    @property
    def connected(self) -> bool:
        """Is the bot on the gateway now (for /healthz)? `is_ready` stays true through
        a dropped connection; this follows each disconnect and resume."""
        return self.gateway_up and not self.is_closed()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton)  # votes on answers sent before a restart
        settings = self.settings
        wanted = settings.thread_followups or settings.discord_answer_channels
        if wanted and not settings.discord_message_content:
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
        guild_id = self.settings.discord_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    def allowed_guilds(self) -> frozenset[int]:
        """The servers the bot may be in; empty means any."""
        settings = self.settings
        extra = {settings.discord_guild_id} if settings.discord_guild_id else set()
        return frozenset(settings.discord_guild_allowlist) | extra

    def allowed_guild(self, guild_id: int | None) -> bool:
        allowed = self.allowed_guilds()
        return guild_id is None or not allowed or guild_id in allowed

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
        allowlist = self.settings.discord_channel_allowlist
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
        elif self.settings.discord_message_content and looks_like_question(question):
            await self.answer_unaddressed(message, question)

    async def answer_unaddressed(self, message: discord.Message, question: str) -> None:
        """A question nobody addressed to the bot: a follow-up in a thread or reply chain
        it answered in, or a question in an answer channel (answered in a new thread)."""
        if self.settings.thread_followups and (
            await self.conversation_of(message) is not None or self.replies_to_me(message)
        ):
            await self.answer_message(message, question)
        elif message.channel.id in self.settings.discord_answer_channels:
            await self.answer_in_new_thread(message, question)

    def replies_to_me(self, message: discord.Message) -> bool:
        """A reply to one of this bot's answers (readable only with Message Content)."""
        resolved = message.reference.resolved if message.reference else None
        return isinstance(resolved, discord.Message) and resolved.author == self.user

    async def conversation_of(self, message: discord.Message) -> Conversation | None:
        """The conversation a message continues: of the thread it is in, or of the
        bot's answer it replies to, when the bot answered there and it is not idle."""
        return await self.service.conversation(conversation_keys(message))

    async def reply_to(self, message: discord.Message, question: str) -> ServiceReply:
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
            await self.send_answer(message.channel, answer, message.author.id, message)
            return
        earlier = await self.conversation_of(message)
        if isinstance(message.channel, discord.Thread):
            await self.service.remember([thread_key(message.channel.id)], answer, earlier)
        sent = await self.send_answer(message.channel, answer, message.author.id, message)
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
        await self.send_answer(thread, answer, message.author.id)

    async def send_answer(
        self,
        channel: discord.abc.Messageable,
        answer: Answer,
        asker_id: int,
        question: discord.Message | None = None,
    ) -> list[discord.Message]:
        """The answer's messages, the first in reply to `question` when given, the last
        with the vote buttons."""
        pieces = format_answer(answer)
        views = on_last(pieces, await self.vote_view(answer, asker_id, channel))
        sent = []
        for n, (piece, view) in enumerate(zip(pieces, views, strict=True)):
            options = {"embeds": piece.embeds, "allowed_mentions": NO_MENTIONS, "view": view}
            if n == 0 and question is not None:
                sent.append(await question.reply(piece.content, **options))
            else:
                sent.append(await channel.send(piece.content, **options))
        return sent

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


class ServerCheckedTree(app_commands.CommandTree):
    """Every slash command is refused in a server the bot is not allowed in."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot = self.client
        assert isinstance(bot, ArticleBot)
        if bot.allowed_guild(interaction.guild_id):
            return True
        await send_private(interaction, messages.NOT_THIS_SERVER)
        return False


PUBLIC_THINKING = "public_thinking"  # in Interaction.extras: a public defer not yet filled


async def defer(interaction: discord.Interaction, private: bool) -> None:
    """Show "thinking…" in the visibility the answer will have. Discord gives the first
    follow-up that visibility whatever it asks for, so a public one is remembered."""
    await interaction.response.defer(thinking=True, ephemeral=private)
    interaction.extras[PUBLIC_THINKING] = not private


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral note, as the first response or as a follow-up. After a public
    defer, the public "thinking" message is deleted first: a follow-up would fill it
    and be seen by everyone."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    if interaction.extras.pop(PUBLIC_THINKING, False):
        await interaction.delete_original_response()
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def is_admin(interaction: discord.Interaction, admin_roles: list[int]) -> bool:
    """Manage Server (as Discord resolved it for this interaction), or a configured role."""
    member = interaction.user
    if interaction.guild_id is None or not isinstance(member, discord.Member):
        return False
    return interaction.permissions.manage_guild or any(r.id in admin_roles for r in member.roles)


def register_commands(bot: ArticleBot) -> None:
    service, settings = bot.service, bot.settings

    @bot.tree.command(name="ask", description="Ask a question about the articles")
    @app_commands.describe(question="Your question", private="Only you see the answer")
    async def ask(interaction: discord.Interaction, question: str, private: bool = False) -> None:
        channel_id = asked_in(interaction)
        allowed = bot.allowed_channel(channel_id, interaction.guild_id is not None)
        user = f"discord:{interaction.user.id}"
        refusal = await service.admit(user, f"discord-channel:{interaction.channel_id}", allowed)
        if refusal is not None:
            await send_private(interaction, refusal.text)
            return
        await defer(interaction, private)
        collection = settings.collection_of(channel_id)
        reply = await service.reply(question, HOW_TO_ASK, collection=collection)
        if reply.outcome is not Outcome.ANSWERED or reply.answer is None:
            await send_private(interaction, reply.text)
            return
        pieces = format_answer(reply.answer)
        views = on_last(
            pieces, await bot.vote_view(reply.answer, interaction.user.id, interaction.channel)
        )
        for piece, view in zip(pieces, views, strict=True):
            await interaction.followup.send(
                piece.content or discord.utils.MISSING,
                embeds=piece.embeds,
                ephemeral=private,
                allowed_mentions=NO_MENTIONS,
                view=view,
            )
            interaction.extras[PUBLIC_THINKING] = False

    @bot.tree.command(name="reindex", description="Rebuild the index from the configured sources")
    async def reindex(interaction: discord.Interaction) -> None:
        if not is_admin(interaction, settings.discord_admin_role_ids):
            await send_private(interaction, messages.only_admins("server managers"))
            return
        collection = settings.collection_of(asked_in(interaction))
        if refusal := await service.claim_reindex(collection):
            await send_private(interaction, refusal)
            return
        text = await service.reindex_text(
            "-", safe_text, collection, started=lambda: defer(interaction, private=True)
        )
        await interaction.followup.send(shorten(text, TEXT_LIMIT), ephemeral=True)

    @bot.tree.command(name="sources", description="List the indexed articles")
    async def sources(interaction: discord.Interaction) -> None:
        if not bot.allowed_channel(asked_in(interaction), interaction.guild_id is not None):
            await send_private(interaction, messages.NOT_THIS_CHANNEL)
            return
        collection = settings.collection_of(asked_in(interaction))
        text = await service.sources_text_for(
            f"discord:{interaction.user.id}", "-", safe_text, collection
        )
        pieces = split_text(text, TEXT_LIMIT)
        await interaction.response.send_message(pieces[0], ephemeral=True)
        for piece in pieces[1:]:
            await interaction.followup.send(piece, ephemeral=True)


def create_discord_bot(service: ChatService, settings: Settings, **options: object) -> ArticleBot:
    """The Discord client, not started. `options` go to discord.Client (e.g. timeouts).
    With `discord_shard_count`, discord.py's AutoShardedClient runs this process's shards."""
    apply_endpoints(settings)
    if settings.discord_shard_count is None:
        return ArticleBot(service, settings, **options)
    shards = {"shard_count": settings.discord_shard_count}
    if settings.discord_shard_ids:
        shards["shard_ids"] = settings.discord_shard_ids  # type: ignore[assignment]
    return ShardedArticleBot(service, settings, **shards, **options)


class ShardedArticleBot(ArticleBot, discord.AutoShardedClient):
    """ArticleBot over some of the bot's shards (one gateway connection each)."""
