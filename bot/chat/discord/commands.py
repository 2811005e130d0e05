"""The slash commands (`/ask`, `/reindex`, `/sources`), the Helpful / Not helpful
buttons under each answer, and the steps every interaction shares (defer, a private
note, who is an admin)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Protocol, cast

import discord
from discord import app_commands

from bot.answer.intent import summary_message
from bot.answer.records import shorten
from bot.chat import messages
from bot.chat.discord.keys import asked_in
from bot.chat.discord.render import (
    HOW_TO_ASK,
    NO_MENTIONS,
    TEXT_LIMIT,
    Piece,
    Post,
    reindex_text,
    sources_text,
    split_text,
)
from bot.chat.service import Outcome

if TYPE_CHECKING:
    from bot.answer.records import Answer
    from bot.chat.discord.config import DiscordConfig
    from bot.chat.feedback import FeedbackStore
    from bot.chat.service import ChatService
    from bot.settings import Settings


class CommandHost(Protocol):
    """What the commands, the vote buttons and the server check need of the client
    (bot/chat/discord/client.py's ArticleBot), named here so this module does not
    import the client that registers it."""

    service: ChatService
    settings: Settings
    config: DiscordConfig
    feedback: FeedbackStore
    tree: app_commands.CommandTree

    def allowed_guild(self, guild_id: int | None) -> bool: ...

    def allowed_channel(self, channel_id: int | None, in_guild: bool) -> bool: ...

    async def send_answer(
        self, post: Post, answer: Answer, asker_id: int, channel: object | None
    ) -> list[discord.Message]: ...


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
        bot = cast("CommandHost", interaction.client)  # the client that registered the button
        stored = await asyncio.to_thread(
            bot.feedback.vote,
            self.answer_id,
            user_id=str(interaction.user.id),
            helpful=self.helpful,
        )
        await send_private(
            interaction, messages.THANKS_FOR_VOTE if stored else messages.VOTE_TOO_LATE
        )


def vote_buttons(answer_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, helpful=True))
    view.add_item(VoteButton(answer_id, helpful=False))
    return view


class ServerCheckedTree(app_commands.CommandTree):
    """Every slash command is refused in a server the bot is not allowed in."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot = cast("CommandHost", self.client)  # the client this tree was made for
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


def as_followups(interaction: discord.Interaction, private: bool) -> Post:
    """Post an answer's pieces as the interaction's follow-ups: the first fills the
    "thinking…" message, with the visibility it was deferred with."""

    async def post(n: int, piece: Piece, view: discord.ui.View) -> None:
        await interaction.followup.send(
            piece.content or discord.utils.MISSING,
            embeds=piece.embeds,
            ephemeral=private,
            allowed_mentions=NO_MENTIONS,
            view=view,
        )
        interaction.extras[PUBLIC_THINKING] = False

    return post


async def reindex_outcome(bot: CommandHost, interaction: discord.Interaction) -> str:
    """What /reindex tells its caller: why it may not rebuild, or what the rebuild
    did (shown "thinking…" privately while it runs). The one reply is sent after all
    of it, so a refusal has no effect to race."""
    if not is_admin(interaction, bot.config.discord_admin_role_ids):
        return messages.only_admins("server managers")
    collection = bot.settings.collection_of(asked_in(interaction))
    if refusal := await bot.service.claim_reindex(collection):
        return refusal
    report = await bot.service.run_reindex(
        collection, started=lambda: defer(interaction, private=True)
    )
    return reindex_text(report)


async def answer_command(
    bot: CommandHost, interaction: discord.Interaction, question: str, private: bool
) -> None:
    """The ask flow of a slash command: admitted, "thinking…", then the answer as
    follow-ups (or a private note instead)."""
    service = bot.service
    channel_id = asked_in(interaction)
    allowed = bot.allowed_channel(channel_id, interaction.guild_id is not None)
    user = f"discord:{interaction.user.id}"
    refusal = await service.admit(user, f"discord-channel:{interaction.channel_id}", allowed)
    if refusal is not None:
        await send_private(interaction, refusal.text)
        return
    await defer(interaction, private)
    collection = bot.settings.collection_of(channel_id)
    reply = await service.reply(question, HOW_TO_ASK, collection=collection)
    if reply.outcome is not Outcome.ANSWERED or reply.answer is None:
        await send_private(interaction, reply.text)
        return
    post = as_followups(interaction, private)
    await bot.send_answer(post, reply.answer, interaction.user.id, interaction.channel)


def register_commands(bot: CommandHost) -> None:
    service, settings = bot.service, bot.settings

    @bot.tree.command(name="ask", description="Ask a question about the articles")
    @app_commands.describe(question="Your question", private="Only you see the answer")
    async def ask(interaction: discord.Interaction, question: str, private: bool = False) -> None:
        await answer_command(bot, interaction, question, private)

    @bot.tree.command(name="summary", description="The gist of an article, from its sentences")
    @app_commands.describe(
        words="A few words of its title (not needed when there is one article)",
        private="Only you see the summary",
    )
    async def summary(
        interaction: discord.Interaction, words: str = "", private: bool = False
    ) -> None:
        await answer_command(bot, interaction, summary_message(words), private)

    @bot.tree.command(name="reindex", description="Rebuild the index from the configured sources")
    async def reindex(interaction: discord.Interaction) -> None:
        text = await reindex_outcome(bot, interaction)
        await send_private(interaction, shorten(text, TEXT_LIMIT))

    @bot.tree.command(name="sources", description="List the indexed articles")
    async def sources(interaction: discord.Interaction) -> None:
        if not bot.allowed_channel(asked_in(interaction), interaction.guild_id is not None):
            await send_private(interaction, messages.NOT_THIS_CHANNEL)
            return
        collection = settings.collection_of(asked_in(interaction))
        text = sources_text(await service.sources_for(f"discord:{interaction.user.id}", collection))
        pieces = split_text(text, TEXT_LIMIT)
        await interaction.response.send_message(pieces[0], ephemeral=True)
        for piece in pieces[1:]:
            await interaction.followup.send(piece, ephemeral=True)
