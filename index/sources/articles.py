"""Articles: loading them from files, directories and URLs, and cleaning their text.

Every loader ends in `make_article`, so an article from any source is cleaned
the same way and gets the same kind of id and content hash.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from index.errors import SourceError, unexpected_failure
from index.progress import SILENT, Progress
from index.records import Article, LoadFailure, content_hash
from index.sources.fetch import Fetcher
from index.sources.redact import redact_url

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES

# Whole lines that are page furniture rather than article text. Only short
# lines that match completely are dropped, so a sentence that merely mentions
# "share" survives.
BOILERPLATE_LINE = re.compile(
    r"^(?:previous\s+(?:post|article|story)(?:\s*[|/·-]?\s*next\s+(?:post|article|story))?"
    r"|next\s+(?:post|article|story)"
    r"|share(?:\s+(?:this|on\s+\w+(?:\s*\w+)?))?(?:\s*(?:article|story|post))?"
    r"|(?:follow|like)\s+us\s+on\s+[\w ,]+"
    r"|(?:read\s+more|related\s+(?:posts|articles|stories)|advertisement|skip\s+to\s+content)"
    r"|(?:click\s+here\s+to\s+)?subscribe(?:\s+to\s+our\s+newsletter)?"
    r"|tweet|email|print|whatsapp|facebook|twitter|linkedin)[\s.:!|]*$",
    re.IGNORECASE,
)
BOILERPLATE_MAX_CHARS = 80
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\u200b-\u200d\u2060\ufeff]")
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")
# A first line longer than this, or one that ends a sentence past PROSE_MIN_CHARS, is
# the article's first paragraph, not its title (plain text without a title line, as
# the SQuAD articles are): headlines are short and rarely end with a full stop.
TITLE_MAX_CHARS = 300
PROSE_MIN_CHARS = 100
SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
NUMBERED_STEM = re.compile(r"^\d+[-_ .]+(?=[^\W\d_])")


# --- cleaning ------------------------------------------------------------------


def normalise_text(raw: str) -> str:
    """Unicode NFKC, no control characters, one space between words, and
    paragraphs (blank-line separated) each on one line."""
    text = unicodedata.normalize("NFKC", raw).replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARS.sub("", text.replace("\t", " "))
    paragraphs = re.split(r"\n\s*\n", text)
    joined = (" ".join(p.split()) for p in paragraphs)
    return "\n\n".join(p for p in joined if p)


def _same_line(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _is_boilerplate(paragraph: str) -> bool:
    return len(paragraph) <= BOILERPLATE_MAX_CHARS and bool(BOILERPLATE_LINE.match(paragraph))


def clean_body(title: str, body: str) -> str:
    """Normalise the body, drop a repeated title at its start and navigation
    or share lines anywhere."""
    paragraphs = normalise_text(body).split("\n\n") if body.strip() else []
    while paragraphs and _same_line(paragraphs[0], title):
        paragraphs.pop(0)
    return "\n\n".join(p for p in paragraphs if not _is_boilerplate(p))


def split_title(text: str) -> tuple[str, str]:
    """Title = the first non-empty line, and the body everything after it; when that
    line reads as a paragraph, there is no title line and the body is all the text."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if first := line.strip():
            if is_prose(first):
                return "", text
            return first.lstrip("#").strip(), "\n".join(lines[i + 1 :])
    return "", ""


def is_prose(line: str) -> bool:
    """Whether a first line is a paragraph rather than a headline."""
    long_sentence = len(line) > PROSE_MIN_CHARS and bool(SENTENCE_END.search(line))
    return len(line) > TITLE_MAX_CHARS or long_sentence


def title_of_file(path: Path) -> str:
    """A title for a file that has none: its name, without a numbered prefix, words
    parted by spaces ("001-Super_Bowl_50.txt": "Super Bowl 50"; "harbour-bridge.txt":
    "Harbour bridge")."""
    name = NUMBERED_STEM.sub("", path.stem).replace("_", " ").strip() or path.stem
    if " " not in name and name.islower():
        name = name.replace("-", " ")
    return name[:1].upper() + name[1:]


def slugify(value: str) -> str:
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:80] or "article"


def make_article(
    *, article_id: str, title: str, body: str, source: str, published: str | None = None
) -> Article:
    """Clean title and body and wrap them as an Article; an empty one is a SourceError."""
    title = " ".join(normalise_text(title).split())
    text = clean_body(title, body)
    if not text:
        raise SourceError(source, "the article has no text")
    return Article(
        id=article_id,
        title=title or article_id,
        text=text,
        source=source,
        published=published,
        content_hash=content_hash(title, text),
    )


# --- parsing one document ------------------------------------------------------------


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """`key: value` lines between leading `---` fences (Markdown front matter)."""
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _date_or_none(value: str | None) -> str | None:
    match = DATE_PREFIX.match(value or "")
    return match.group(0) if match else None


def parse_text(raw: str, *, article_id: str, source: str, untitled: str = "") -> Article:
    """A plain text or Markdown article: optional front matter, title on the first line
    (`untitled`: the title when the text has none)."""
    meta, rest = _front_matter(raw.lstrip("\ufeff"))
    title, body = split_title(rest)
    if meta.get("title"):
        title, body = meta["title"], rest
    title = title or untitled
    published = _date_or_none(meta.get("date") or meta.get("published"))
    return make_article(
        article_id=article_id, title=title, body=body, source=source, published=published
    )


def parse_html(html: str, *, article_id: str, source: str) -> Article:
    """The main text of a web page, found by trafilatura, with its title and date."""
    import trafilatura

    url = source if is_url(source) else None
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    if doc is None or not (doc.text or "").strip():
        raise SourceError(source, "no article text found in the page")
    body = (doc.text or "").replace("\n", "\n\n")
    return make_article(
        article_id=article_id,
        title=doc.title or "",
        body=body,
        source=source,
        published=_date_or_none(doc.date),
    )


def decode_bytes(data: bytes) -> str:
    """UTF-8, with undecodable bytes dropped rather than failing the whole article."""
    return data.decode("utf-8", errors="replace")


# --- sources: files, directories, URLs ------------------------------------------------


def article_id_for_path(path: Path) -> str:
    return slugify(path.stem)


def article_id_for_url(url: str) -> str:
    parsed = urlparse(url)
    last = Path(parsed.path.rstrip("/")).stem or parsed.netloc
    return f"{slugify(last)}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def load_file(path: Path) -> Article:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(str(path), f"unsupported file type {suffix or '(none)'}")
    try:
        raw = decode_bytes(path.read_bytes())
    except FileNotFoundError:
        raise SourceError(str(path), "no such file") from None
    except OSError as exc:
        raise SourceError(str(path), exc.strerror or str(exc)) from None
    article_id = article_id_for_path(path)
    if suffix in HTML_SUFFIXES:
        return parse_html(raw, article_id=article_id, source=str(path))
    return parse_text(raw, article_id=article_id, source=str(path), untitled=title_of_file(path))


FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml"}


def parse_page(url: str, content_type: str, text: str, published: str | None = None) -> Article:
    """An article from a fetched page; `published` (e.g. a feed entry's date) fills
    in when the page itself has none."""
    article_id, source = article_id_for_url(url), redact_url(url)
    if content_type in {"text/plain", "text/markdown"}:
        article = parse_text(text, article_id=article_id, source=source)
    else:
        article = parse_html(text, article_id=article_id, source=source)
    return article if article.published or not published else replace(article, published=published)


def feed_entries(body: bytes) -> list[tuple[str, str | None]]:
    """(link, publication date) of each entry of an RSS or Atom feed. feedparser
    gets the bytes as a stream: given a string, it would open it as a path or URL."""
    import feedparser

    feed = feedparser.parse(io.BytesIO(body))
    entries = []
    for entry in feed.entries:
        link = entry.get("link")
        parsed = entry.get("published_parsed") or entry.get("updated_parsed")
        date = f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}" if parsed else None
        if link:
            entries.append((link, date))
    return entries


def looks_like_feed(content_type: str, text: str) -> bool:
    head = text[:500].lstrip().lower()
    return content_type in FEED_TYPES or "<rss" in head or "<feed" in head


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def expand_source(source: str) -> list[str]:
    """A directory becomes the supported files in it (recursively, sorted); a file stays."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise SourceError(source, "the directory holds no .txt, .md or .html files")
        return [str(p) for p in files]
    return [source]


def iter_url(url: str, fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    """One article, or every entry of an RSS/Atom feed (each fetched in turn, at
    most `feed_max_entries` of them), all within the source's one deadline."""
    fetcher = fetcher.for_source()
    page = fetcher.get(url)
    text = decode_bytes(page.body)
    if not looks_like_feed(page.content_type, text):
        yield parse_page(url, page.content_type, text)
        return
    entries = feed_entries(page.body)
    if not entries:
        raise SourceError(redact_url(url), "the feed has no entries with links")
    limit = fetcher.config.feed_max_entries
    if len(entries) > limit:
        log.warning(
            "%s has %d entries; indexing the first %d (feed_max_entries)",
            redact_url(url),
            len(entries),
            limit,
        )
    for link, date in entries[:limit]:
        try:
            entry = fetcher.get(link, feed_entry=True)
            article = parse_page(link, entry.content_type, decode_bytes(entry.body), date)
        except Exception as exc:  # one entry's failure, whatever it is, is that entry's
            failure = unexpected_failure(redact_url(link), exc)
            yield LoadFailure(failure.source, failure.reason)
            continue
        yield article


def iter_load(sources: Iterable[str], fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    """Load every source, yielding each article or the reason it failed, so one
    bad source never stops the others."""
    for source in sources:
        try:
            if is_url(source):
                yield from iter_url(source, fetcher)
                continue
            expanded = expand_source(source)
        except Exception as exc:  # whatever one source raises stops that source alone
            failure = unexpected_failure(redact_url(source), exc)
            yield LoadFailure(failure.source, failure.reason)
            continue
        for item in expanded:
            try:
                article = load_file(Path(item))
            except Exception as exc:
                failure = unexpected_failure(item, exc)
                yield LoadFailure(failure.source, failure.reason)
                continue
            yield article


def load_articles(
    sources: Iterable[str],
    *,
    fetcher: Fetcher | None = None,
    progress: Progress = SILENT,
) -> tuple[list[Article], list[LoadFailure]]:
    """All loadable articles (ids made unique) and the failures, in source order.
    URLs are fetched by `fetcher` (by default with the default FetchConfig)."""
    articles: list[Article] = []
    failures: list[LoadFailure] = []
    loading = iter_load(sources, fetcher or Fetcher())
    for item in progress.over(loading, "Loading", " article"):
        if isinstance(item, LoadFailure):
            failures.append(item)
        else:
            articles.append(item)
    return unique_ids(articles), failures


def unique_ids(articles: list[Article]) -> list[Article]:
    """The articles, a repeated id made unique with a hash of the article's source."""
    seen: set[str] = set()
    unique = []
    for article in articles:
        if article.id in seen:
            suffix = hashlib.sha256(article.source.encode()).hexdigest()[:8]
            article = replace(article, id=f"{article.id}-{suffix}")
        seen.add(article.id)
        unique.append(article)
    return unique
