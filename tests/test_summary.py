"""Summaries: a message that asks for an article's gist (bot/answer/intent.py) gets
the summary chosen at build time (index/build/summaries.py), quoted and cited; a
question that only sounds like one is still answered as a question. Fast tier on
the hashing embedder, but for the bundled article's own summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.answer.answerer import Answerer
from bot.answer.followup import Conversation
from bot.answer.intent import list_request, summary_request
from bot.answer.records import NOT_FOUND
from bot.answer.summary import TITLES_LISTED, article_lines, which_article
from bot.chat import messages
from bot.settings import Settings, bundled_dir, load_settings
from bot.wiring import make_answerer
from index.build.directory import IndexDirectory
from index.build.summaries import SUMMARY_CHARS
from index.errors import IndexCorruptError
from index.sentence_split import sentence_spans
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from index.storage.layout import read_pointer
from index.storage.sentences import SUMMARY_SPANS
from tests.fakes.hashing import HashingEmbedder

INTENTS = Path(__file__).parent / "questions" / "intents.jsonl"


@pytest.mark.parametrize(
    "message",
    [
        "What is this article about?",
        "whats it about",
        "Summarize the article",
        "sumarize pls",
        "summery please",
        "tl;dr",
        "TL;DR?",
        "give me the gist",
        "key points?",
        "what happened?",
    ],
)
def test_a_request_for_the_gist_is_known_however_it_is_typed(message: str) -> None:
    assert summary_request(message) is not None


@pytest.mark.parametrize(
    "message",
    [
        "what is the station about to do?",
        "what's new about the engine design?",
        "what happened to Mir?",
        "Who wrote the summary report?",
        "what did the report summarize about warming?",
        "When was the International Space Station launched?",
        "what about Canada?",
    ],
)
def test_a_question_that_only_sounds_like_one_stays_a_question(message: str) -> None:
    assert summary_request(message) is None


def test_the_words_that_name_the_article_are_kept() -> None:
    assert summary_request("summarise the comet article").about == "comet"  # type: ignore[union-attr]
    named = summary_request("Can you summarize the article about the space station?")
    assert named is not None and named.about == "space station"
    assert summary_request("tl;dr please").about == ""  # type: ignore[union-attr]


def test_the_labelled_set_has_every_kind() -> None:
    """bench/intent.py measures the classifier on it; at least 60 messages, with near
    misses among the questions."""
    rows = [json.loads(line) for line in INTENTS.read_text().splitlines()]
    assert len(rows) >= 60 and {r["intent"] for r in rows} == {"summary", "list", "question"}
    assert sum(r["intent"] == "question" and "about" in r["message"] for r in rows) >= 3


def test_every_article_gets_a_summary_at_build_time(
    fast_index_dir: Path, fast_embedder: HashingEmbedder
) -> None:
    """Two to four of the article's own sentences, in article order, at most
    SUMMARY_CHARS with the title as shown, none a fragment; stored in the version."""
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    for article_id in index.articles:
        spans = index.summary(article_id)
        text = index.articles[article_id].text
        sentences = [index.chunks[p].text[s:e] for p, s, e in spans]
        assert 2 <= len(sentences) <= 4, article_id
        shown = f"{index.articles[article_id].title}: " + " ".join(sentences)
        assert len(shown) <= SUMMARY_CHARS
        places = [text.index(s) for s in sentences]  # each quoted from the article
        assert places == sorted(places) and all(len(s) >= 40 for s in sentences)


@pytest.fixture(scope="module")
def library(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Answerer:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("summary"))
    return make_answerer(settings, ArticleIndex.load(fast_index_dir, fast_embedder))


def test_a_request_that_fits_several_articles_lists_them(library: Answerer) -> None:
    answer = library.answer("What is this article about?")
    titles = sorted(a["title"] for a in library.index.manifest.articles)
    assert answer.text == which_article(titles) and not answer.abstained
    assert answer.sources == []


def test_a_request_naming_an_article_gets_its_summary_cited(library: Answerer) -> None:
    answer = library.answer("summarise the comet story")
    assert answer.text.startswith("Mountain observatory discovers a new comet: ")
    assert "C/2023 H2" in answer.text and not answer.abstained
    assert answer.sources and {p.article.id for p in answer.sources} == {"observatory"}
    for passage in answer.sources:  # the quoted sentence is in the cited passage
        start, end = passage.cited or (0, 0)
        assert passage.chunk.text[start:end] in answer.text


def test_in_a_conversation_the_summary_is_of_its_article(library: Answerer) -> None:
    about_the_bridge = Conversation(
        ("How much did the bridge cost?",), frozenset({"harbour-bridge"})
    )
    answer = library.answer("tl;dr", conversation=about_the_bridge)
    assert answer.text.startswith("Harbour bridge opens after six years of work: ")


def test_a_question_with_about_in_it_is_answered_as_a_question(library: Answerer) -> None:
    answer = library.answer("How much did the harbour bridge cost?")
    assert "412 million" in answer.text


def test_with_one_article_the_summary_needs_no_name(
    fast_embedder: HashingEmbedder, tmp_path: Path
) -> None:
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    IndexDirectory(tmp_path / "index", fast_embedder).add(articles)
    index = ArticleIndex.load(tmp_path / "index", fast_embedder)
    answer = make_answerer(load_settings(data_dir=tmp_path), index).answer("tl;dr")
    assert answer.text.startswith("Russia plans to leave the International Space Station: ")


@pytest.mark.parametrize("title_words", [12, 30])  # a title of 80 characters, and of 200
def test_a_summary_with_its_title_stays_within_the_limit(
    fast_embedder: HashingEmbedder, tmp_path: Path, title_words: int
) -> None:
    """An article of many long sentences: the summary as shown, title included (a long
    one shortened), is at most SUMMARY_CHARS, with two sentences or more."""
    title = " ".join(["Harbour"] * title_words)
    body = " ".join(  # sentences of about 140 characters: four fit in 600, not beside a title
        [
            "The harbour council agreed on Monday that the new ferry schedule will start in "
            "spring, once the northern pier is fixed by the port crews.",
            "Fishermen from the old quarter protested outside the town hall, saying the "
            "mooring fees would double their yearly costs and sink family boats.",
            "A marine biologist warned that dredging the channel could disturb the seagrass "
            "where juvenile cod and flounder shelter each winter.",
            "Tourism officials expect record cruise arrivals next summer, with forty ships "
            "booked and shops on the promenade planning longer hours.",
            "The mayor promised a public hearing before any contract is signed, and invited "
            "written comments to the planning office until the end of March.",
            "Engineers estimate the renovation of the breakwater will cost eleven million "
            "euros, paid from a regional fund for coastal defences.",
        ]
    )
    source = tmp_path / "long.txt"
    source.write_text(f"{title}\n\n{body}\n")
    articles, _ = load_articles([str(source)])
    IndexDirectory(tmp_path / "index", fast_embedder).add(articles)
    index = ArticleIndex.load(tmp_path / "index", fast_embedder)
    answer = make_answerer(load_settings(data_dir=tmp_path), index).answer("tl;dr")
    assert len(answer.text) <= SUMMARY_CHARS, len(answer.text)
    shown_title, _, sentences = answer.text.partition(": ")
    assert title.startswith(shown_title.removesuffix("…"))
    assert len(sentence_spans(sentences)) >= 2


def test_the_bundled_article_s_summary(answerer: Answerer, settings: Settings) -> None:
    """The real model's summary of the bundled article: its title and sentences of
    its own, cited; never "not in the articles"."""
    for message in ("What is this article about?", "tl;dr", "summarize the article"):
        answer = answerer.answer(message)
        assert answer.text != NOT_FOUND and not answer.abstained
        title, _, body = answer.text.partition(": ")
        assert title == "Russia plans to leave the International Space Station"
        article = answerer.index.articles["russia-leaves-iss"].text
        assert body and all(p.chunk.text[slice(*p.cited)] in article for p in answer.sources)
        assert "Russia planning to build its own orbiting space station in 2025" in body


@pytest.mark.parametrize(
    ("message", "wanted"),
    [
        ("what articles do you have?", True),
        ("what's new", True),
        ("latest news", True),
        ("list the articles", True),
        ("what's new about the engine design?", False),  # a question about something new
        ("which articles mention Mir?", False),
        ("What is new in the ISS plan?", False),
    ],
)
def test_a_request_for_the_list_is_told_from_a_question(message: str, wanted: bool) -> None:
    assert list_request(message) is wanted


def test_the_list_is_newest_first_with_a_line_of_each(library: Answerer) -> None:
    answer = library.answer("what's new?")
    header, *lines = answer.text.splitlines()
    assert header == "4 article(s), newest first:" and not answer.abstained
    assert lines[0].startswith("- Apple festival draws record crowds (2024-09-14): ")
    assert len(lines) == 4 and all(": " in line for line in lines)


def test_an_article_from_the_web_is_listed_with_its_link() -> None:
    """A web article's title carries its address (in <>, shown as a link without a
    preview); a file's does not (its path is the bot's business)."""
    entries = [
        {"title": "Ferry renamed", "source": "https://news.example/ferry", "gist": "The ferry."},
        {"title": "Bridge opens", "source": "/srv/articles/bridge.txt", "gist": "The bridge."},
    ]
    assert article_lines(entries) == [
        "- Ferry renamed <https://news.example/ferry>: The ferry.",
        "- Bridge opens: The bridge.",
    ]


def test_a_long_list_stops_at_ten_and_says_how_many_more() -> None:
    articles = [{"title": f"Story {n}", "published": f"2026-11-{n:02d}"} for n in range(1, 14)]
    lines = messages.article_list(articles, "-", str).splitlines()
    assert len(lines) == TITLES_LISTED + 1 and lines[-1] == "and 3 more"


def test_a_damaged_summary_table_is_named(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    """Mapped when the version opens, and checked against the articles: a table of
    another shape (the same size on disk) stops the load with its name."""
    version = fast_index_copy / "versions" / read_pointer(fast_index_copy)
    path = version / SUMMARY_SPANS
    spans = np.load(path)
    size = path.stat().st_size
    np.save(path, spans.reshape(len(spans), -1))
    assert path.stat().st_size == size  # _check_files would name it anyway
    with pytest.raises(IndexCorruptError, match=r"summary-spans\.npy"):
        ArticleIndex.load(fast_index_copy, fast_embedder)
