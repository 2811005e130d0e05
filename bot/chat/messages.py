"""Every sentence the chat bots say that is not an answer, in one place, so both
platforms say the same thing and a wording is changed once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.answer.summary import Link, article_lines, plain_link

if TYPE_CHECKING:
    from bot.collection import ReindexReport

Escape = Callable[[str], str]

SORRY = "Sorry, something went wrong; the operator has been told."
NOT_FOUND_HINT = "Try rephrasing the question, or ask about something the articles cover."
BUSY = "I'm answering a lot of questions right now. Please try again in a minute."
NOT_THIS_CHANNEL = "I don't answer in this channel."
NOT_THIS_SERVER = "ArticleBot is not enabled in this server."
REBUILD_RUNNING = "A rebuild is already running."
NO_ARTICLES = "No articles are indexed."
THANKS_FOR_VOTE = "Thanks for the feedback."
VOTE_TOO_LATE = "That answer is too old to rate."


def how_to_ask(example: str) -> str:
    """Help for an empty question, with the platform's own way of asking."""
    return f"Ask me a question about the articles, e.g. `{example}`"


def wait_note(seconds: float) -> str:
    return f"You're asking quickly. Please wait {max(1, round(seconds))} s and try again."


def cooldown_note(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"The index was rebuilt recently. Try again in about {minutes} min."


def only_admins(who: str) -> str:
    return f"Only {who} can rebuild the index."


def rebuilt(report: ReindexReport | str, bullet: str, escape: Escape) -> str:
    """What a /reindex did, in words for the admin who asked for it (or the note
    the service gave in its place)."""
    if isinstance(report, str):
        return report
    manifest = report.manifest
    text = (
        f"Index rebuilt: {len(manifest.articles)} article(s), {manifest.chunk_count} "
        f"passages, version `{manifest.version}`."
    )
    if report.failed:
        text += "\nNot indexed:\n" + "\n".join(f"{bullet} {escape(f)}" for f in report.failed)
    return text


def more_news(count: int) -> str:
    """The line after an announcement that shows only the newest of what arrived."""
    return f"and {count} more new article(s): /sources lists them."


def whole_lines(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut after its last whole line that fits (a
    line cut short would break the link in it), with "…" for the rest."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 2)
    return (text[:cut] if cut > 0 else text[: limit - 2]) + "\n…"


def article_list(
    articles: list[dict] | str, bullet: str, escape: Escape, link: Link = plain_link
) -> str:
    """A collection's articles for /sources, newest first, one line each with its
    date and the start of its summary, at most ten and then how many more (or the
    note the service gave in their place)."""
    if isinstance(articles, str):
        return articles
    return "\n".join(article_lines(articles, bullet, escape, link)) or NO_ARTICLES
