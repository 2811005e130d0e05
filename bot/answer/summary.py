"""The answer to "what is this article about?": the article's summary, chosen at
build time (index/build/summaries.py), quoted and cited like any answer; and to
"what articles do you have?": the articles, newest first, each with a line of it.

Which article: the one the conversation is about, the one the message names
("summarise the comet story", found by the retriever), or the only one there is;
when several fit, the answer lists them and asks which.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.answer.followup import Conversation
from bot.answer.intent import SummaryRequest
from bot.answer.records import Answer, Passage, shorten
from index.sources.articles import is_url
from index.storage.article_index import ArticleIndex
from index.storage.sentences import SUMMARY_TITLE_CHARS

TITLES_LISTED = 10
GIST_CHARS = 120  # an article's line in a list: the start of its summary


def which_article(titles: list[str]) -> str:
    """What the bot says when a summary could be of several articles."""
    shown = "; ".join(f"“{t}”" for t in titles[:TITLES_LISTED])
    more = f" and {len(titles) - TITLES_LISTED} more" if len(titles) > TITLES_LISTED else ""
    return (
        f"Which article? I have {len(titles)}: {shown}{more}. Ask again with a few words "
        "of its title, e.g. “summarize the article about …”."
    )


def summary_answer(
    index: ArticleIndex,
    request: SummaryRequest,
    asked: Answer,
    conversation: Conversation | None,
    search: Callable[[str], list[Passage]],
) -> Answer:
    """The summary of the article the request means, as an answer to `asked` (the
    question, its notes and the version); or the question of which article."""
    article_id = summarised_article(index, request, conversation, search)
    if article_id is None:
        titles = sorted(a["title"] for a in index.manifest.articles)  # no article read in
        return Answer(
            asked.question, which_article(titles), False, [], asked.notes, asked.index_version
        )
    article = index.articles[article_id]
    passages: list[Passage] = []
    for position, start, end in index.summary(article_id):
        chunk = index.chunks[position]
        if not passages or passages[-1].chunk.id != chunk.id:
            passages.append(Passage(len(passages) + 1, chunk, article, 1.0, (start, end)))
    sentences = summary_sentences(index, article_id)
    if not sentences:  # a version built before summaries
        return Answer(
            asked.question,
            f"“{article.title}” has no summary in this index version; "
            "rebuild the index to get one.",
            True,
            [],
            asked.notes,
            asked.index_version,
        )
    text = f"{shorten(article.title, SUMMARY_TITLE_CHARS)}: " + " ".join(sentences)
    return Answer(asked.question, text, False, passages, asked.notes, asked.index_version, 1.0)


def summarised_article(
    index: ArticleIndex,
    request: SummaryRequest,
    conversation: Conversation | None,
    search: Callable[[str], list[Passage]],
) -> str | None:
    """The article a summary request means; None when several fit."""
    if request.about:
        found = search(request.about)
        return found[0].article.id if found else None
    cited = [a for a in (conversation.article_ids if conversation else ()) if a in index.articles]
    if len(cited) == 1:
        return cited[0]
    if len(index.articles) == 1:
        return next(iter(index.articles))
    return None


def summary_sentences(index: ArticleIndex, article_id: str) -> list[str]:
    """The sentences of an article's summary, in article order ([] if it has none)."""
    return [index.chunks[p].text[start:end] for p, start, end in index.summary(article_id)]


def gist(index: ArticleIndex, article_id: str) -> str:
    """One line of an article: its summary's first sentence, shortened ("" if none)."""
    sentences = summary_sentences(index, article_id)
    return shorten(sentences[0], GIST_CHARS) if sentences else ""


def by_date(entries: list[dict]) -> list[dict]:
    """Manifest entries (id, title, published, source), newest first where dated."""
    return sorted(entries, key=lambda a: (a.get("published") or "", a["title"]), reverse=True)


def newest_first(index: ArticleIndex) -> list[dict]:
    """The version's articles (the manifest's entries: id, title, date, source),
    newest first where dated; those a list shows (the first TITLES_LISTED) each with
    its `gist`, read from the version only for them."""
    entries = by_date(index.manifest.articles)
    listed = [{**e, "gist": gist(index, e["id"])} for e in entries[:TITLES_LISTED]]
    return listed + entries[TITLES_LISTED:]


Link = Callable[[str, str], str]  # (the title as shown, the article's URL) -> the title linked


def plain_link(title: str, url: str) -> str:
    """A title and its address in plain text (the address in <>, which chat apps
    show as a link without a preview)."""
    return f"{title} <{url}>"


def article_lines(
    entries: list[dict],
    bullet: str = "-",
    escape: Callable[[str], str] = str,
    link: Link = plain_link,
) -> list[str]:
    """The lines of a list of articles (newest_first's entries): each title linked to
    the article when it came from the web, with its date and the start of its
    summary, at most TITLES_LISTED, then how many more. The answer to "what's new?"
    and /sources both write them."""
    lines = [
        f"{bullet} {linked(e, escape, link)}"
        + (f" ({e['published']})" if e.get("published") else "")
        + (f": {escape(e['gist'])}" if e.get("gist") else "")
        for e in entries[:TITLES_LISTED]
    ]
    if len(entries) > TITLES_LISTED:
        lines.append(f"and {len(entries) - TITLES_LISTED} more")
    return lines


def linked(entry: dict, escape: Callable[[str], str], link: Link) -> str:
    """An entry's title, linked when its source is a web address (not a file)."""
    title, source = escape(entry["title"]), entry.get("source") or ""
    return link(title, source) if is_url(source) else title


def article_list_answer(index: ArticleIndex, asked: Answer) -> Answer:
    """What the bot has, newest first."""
    entries = newest_first(index)
    text = f"{len(entries)} article(s), newest first:\n" + "\n".join(article_lines(entries))
    return Answer(asked.question, text, False, [], asked.notes, asked.index_version)
