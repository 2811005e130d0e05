"""How an answer looks on Slack: Block Kit with the short answer, each source (a
linked title, its date and score, the quoted passage) and the feedback buttons,
within Slack's limits, with article and user text shown as written (escaped,
verbatim: nobody is pinged)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.answer.records import Answer, shorten
from bot.chat import messages
from index.sources.articles import is_url

if TYPE_CHECKING:
    from bot.chat.announce import Announcement, NewArticle
    from bot.collection import ReindexReport

SECTION_LIMIT = 3000
CONTEXT_LIMIT = 3000
BLOCK_LIMIT = 50
TEXT_LIMIT = 40_000
QUOTE_CHARS = 600
MAX_SOURCES = 10
HOW_TO_ASK = messages.how_to_ask("/ask What happened?")
HELPFUL, NOT_HELPFUL = "feedback_helpful", "feedback_not_helpful"


def escape(text: str) -> str:
    """Slack's three control characters, so article or user text can't ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def reindex_text(report: ReindexReport | str) -> str:
    """What /reindex did, as Slack shows it."""
    return messages.rebuilt(report, "•", escape)


def sources_text(articles: list[dict] | str) -> str:
    """/sources, as Slack shows it."""
    return messages.article_list(articles, "•", escape, slack_link)


def slack_link(title: str, url: str) -> str:
    """A title (already escaped) linked to `url` in Slack's mrkdwn."""
    return f"<{link_target(url)}|{title}>"


def link_target(url: str) -> str:
    """A URL as the target of a `<url|text>` link: `|`, `<` and `>` percent-encoded,
    so none of the URL can end the link early or take over its text."""
    encoded = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return encoded.replace("&", "&amp;")


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


def voted_answer_ids(blocks: list[dict]) -> list[str]:
    """The answer ids the feedback buttons of a message's blocks vote on."""
    return [
        str(element.get("value"))
        for block in blocks
        if block.get("block_id") == "feedback"
        for element in block.get("elements") or []
    ]


def source_blocks(n: int, answer: Answer) -> list[dict]:
    passage = answer.sources[n - 1]
    article = passage.article
    title = escape(article.title)
    if is_url(article.source):
        title = slack_link(title, article.source)
    meta = " · ".join(
        filter(None, [f"*[{n}] {title}*", article.published, f"score {passage.score:.2f}"])
    )
    quote = escape(passage.quote(QUOTE_CHARS))
    return [
        {"type": "context", "elements": [mrkdwn(shorten(meta, CONTEXT_LIMIT))]},
        section(f"> {quote}"),
    ]


def news_blocks(article: NewArticle) -> tuple[str, list[dict]]:
    """(fallback text, blocks) of a new article: its linked title, summary and date."""
    title = escape(article.title)
    if article.link:
        title = f"<{link_target(article.link)}|{title}>"
    meta = " · ".join(filter(None, ["New article", article.published]))
    blocks = [
        {"type": "context", "elements": [mrkdwn(meta)]},
        section(f"*{title}*"),
    ]
    if article.summary:
        blocks.append(section(escape(article.summary)))
    return shorten(f"New article: {escape(article.title)}", TEXT_LIMIT), blocks


def format_announcement(news: Announcement) -> list[tuple[str, list[dict]]]:
    """A message per new article, then one line for those not shown."""
    posts = [news_blocks(article) for article in news.articles]
    if news.more:
        more = messages.more_news(news.more)
        posts.append((more, [section(more)]))
    return posts


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
    cited = f"\nSources: {titles}" if titles else ""  # a list of articles cites none
    return shorten(f"{text}{cited}", TEXT_LIMIT), blocks
