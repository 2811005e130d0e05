"""How an answer looks on Discord: the short answer, then one embed per source, split
over as many messages as Discord's limits need, with article and user text shown as
written (markdown escaped, mentions defused)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bot.answer.records import Answer, Passage, shorten
from bot.chat import messages
from index.sources.articles import is_url

TEXT_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TITLE_LIMIT = 256
EMBEDS_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
QUOTE_CHARS = 600
HOW_TO_ASK = messages.how_to_ask("/ask question: What happened?")
NO_MENTIONS = discord.AllowedMentions.none()

if TYPE_CHECKING:
    from bot.chat.announce import Announcement, NewArticle
    from bot.collection import ReindexReport


@dataclass
class Piece:
    """One Discord message: text and embeds within the platform's limits."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)


# How an answer's pieces leave: (the piece's number, the piece, its view) -> the message
# posted, if the destination gives it back. One per place an answer goes: a channel, a
# thread, an interaction's follow-ups.
Post = Callable[[int, Piece, discord.ui.View], Awaitable[discord.Message | None]]


def safe_text(text: str) -> str:
    """Article or user text shown by the bot as written: its markdown (masked links,
    spoilers, headings, emphasis) escaped, and mentions defused even before
    allowed_mentions (which stops the pings) is applied. Bare URLs stay links."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def reindex_text(report: ReindexReport | str) -> str:
    """What /reindex did, as Discord shows it."""
    return messages.rebuilt(report, "-", safe_text)


def sources_text(articles: list[dict] | str) -> str:
    """/sources, as Discord shows it."""
    return messages.article_list(articles, "-", safe_text, masked_link)


def masked_link(title: str, url: str) -> str:
    """A title linked to `url` as Discord writes it, without a preview of the page."""
    return f"[{title}](<{url}>)"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph break if one falls in
    the second half of the piece, else at a line break, else at a word break (so a
    line, such as a listed article with its link, stays whole where it can)."""
    pieces = []
    while len(text) > limit:
        window = text[:limit]
        breaks = (window.rfind(mark) for mark in ("\n\n", "\n", " "))
        cut = next((b for b in breaks if b > limit // 2), limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def source_embed(n: int, passage: Passage) -> discord.Embed:
    article = passage.article
    url = article.source if is_url(article.source) else None
    quote = passage.quote(QUOTE_CHARS)
    embed = discord.Embed(
        title=shorten(f"[{n}] {safe_text(article.title)}", EMBED_TITLE_LIMIT),
        url=url,
        description=shorten(f"> {safe_text(quote)}", EMBED_DESCRIPTION_LIMIT),
    )
    footer = " · ".join(filter(None, [article.published, f"score {passage.score:.2f}"]))
    embed.set_footer(text=footer)
    return embed


def news_embed(article: NewArticle) -> discord.Embed:
    """A new article: its linked title, its summary and its date."""
    embed = discord.Embed(
        title=shorten(safe_text(article.title), EMBED_TITLE_LIMIT),
        url=article.link,
        description=shorten(safe_text(article.summary), EMBED_DESCRIPTION_LIMIT) or None,
    )
    embed.set_author(name="New article")
    if article.published:
        embed.set_footer(text=article.published)
    return embed


def format_announcement(news: Announcement) -> list[Piece]:
    """A message per new article, then one line for those not shown."""
    pieces = [Piece(embeds=[news_embed(article)]) for article in news.articles]
    return pieces + ([Piece(messages.more_news(news.more))] if news.more else [])


def format_answer(answer: Answer) -> list[Piece]:
    """The short answer first, then one embed per source, split over as many
    messages as Discord's limits need."""
    notes = "".join(f"-# {safe_text(note)}\n" for note in answer.notes)
    if answer.abstained:
        text = f"{notes}{safe_text(answer.text)} {messages.NOT_FOUND_HINT}"
        return [Piece(shorten(text, TEXT_LIMIT))]
    replies = [Piece(piece) for piece in split_text(notes + answer.marked("**", safe_text))]
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
    return replies + [Piece(embeds=batch) for batch in batches[1:]]


def on_last(pieces: list[Piece], view: discord.ui.View) -> list[discord.ui.View]:
    """The view for each message of an answer: only its last message carries it."""
    return [discord.utils.MISSING] * (len(pieces) - 1) + [view]
