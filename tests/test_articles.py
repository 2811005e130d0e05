"""Loading and cleaning articles from files, directories and URLs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import bundled_dir
from index.config import FetchConfig
from index.errors import SourceError
from index.progress import Progress
from index.sources.articles import load_articles, load_file, normalise_text
from index.sources.fetch import Fetcher
from tests.fakes.pages import load_url, serve_pages

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]  # where the fake sites are

FIXTURES = Path(__file__).parent / "fixtures"
OBSERVATORY = (FIXTURES / "observatory.html").read_bytes()


def test_bundled_article_is_cleaned() -> None:
    article = load_file(bundled_dir() / "articles" / "russia-leaves-iss.txt")
    assert article.title == "Russia plans to leave the International Space Station"
    assert article.id == "russia-leaves-iss"
    # the title repeated as the first body line is collapsed; the footer is gone
    assert not article.text.startswith("Russia plans to leave")
    assert article.text.startswith("For more than two decades")
    assert "Previous Post" not in article.text
    assert article.text.endswith("build a research station on the moon.")
    assert len(article.content_hash) == 64


def test_text_boilerplate_and_repeated_title(tmp_path: Path) -> None:
    article = load_file(FIXTURES / "harbour-bridge.txt")
    assert article.title == "Harbour bridge opens after six years of work"
    assert article.text.count("Harbour bridge opens") == 0
    assert "Share this" not in article.text
    assert article.text.endswith("the old ferry route.")
    assert article.published is None


def test_a_text_without_a_title_line_keeps_its_first_paragraph(tmp_path: Path) -> None:
    """A plain text file that starts with its first paragraph (as the SQuAD articles do)
    keeps that paragraph as text, to be searched and quoted, and is titled by its name."""
    lead = (
        "The harbour bridge in Port Elsworth was opened to traffic on Monday by the mayor, "
        "six years after work began."
    )
    source = tmp_path / "001-Harbour_bridge.txt"
    source.write_text(f"{lead}\n\nAround 40,000 vehicles a day are expected to cross it.\n")
    article = load_file(source)
    assert article.title == "Harbour bridge"
    assert article.text.startswith(lead)
    headed = tmp_path / "harbour-news.txt"
    headed.write_text("Harbour bridge opens after six years.\n\nThe new bridge opened.\n")
    assert load_file(headed).title == "Harbour bridge opens after six years."
    assert load_file(headed).text == "The new bridge opened."


def test_markdown_front_matter_gives_title_and_date() -> None:
    article = load_file(FIXTURES / "orchard-festival.md")
    assert article.title == "Apple festival draws record crowds"
    assert article.published == "2024-09-14"
    assert article.text.startswith("The annual apple festival")
    assert "---" not in article.text


def test_html_main_text_title_and_date() -> None:
    article = load_file(FIXTURES / "observatory.html")
    assert "new comet" in article.title
    assert article.published == "2023-05-02"
    assert "Tomas Okafor" in article.text
    assert "Share on Facebook" not in article.text
    assert "Sport" not in article.text


def test_control_characters_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "dirty.txt"
    path.write_bytes(
        b"Dirty\x00 title\n\nThe mayor\x07 said \xff\xfe the plan\x1b is final.\r\n\r\n"
        + "Tabs\tand   spaces\u00a0collapse.".encode()
    )
    article = load_file(path)
    assert article.title == "Dirty title"
    assert article.text == "The mayor said the plan is final.\n\nTabs and spaces collapse."


def test_unicode_is_normalised() -> None:
    # NFKC folds the ligature and the full-width digits; white space is folded
    raw = "\ufb01nal   score\uff1a\uff11\uff12\n\n\n\nnext"
    assert normalise_text(raw) == "final score:12\n\nnext"


def test_empty_article_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("Only a title\n\n   \n\nPrevious Post Next Post\n")
    with pytest.raises(SourceError, match="no text"):
        load_file(path)


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_file(tmp_path / "nope.txt")
    (tmp_path / "data.pdf").write_bytes(b"%PDF")
    with pytest.raises(SourceError, match="unsupported file type"):
        load_file(tmp_path / "data.pdf")


def test_directory_loads_every_supported_file_and_reports_failures(tmp_path: Path) -> None:
    articles, failures = load_articles([str(FIXTURES), str(tmp_path / "missing.txt")])
    assert sorted(a.id for a in articles) == ["harbour-bridge", "observatory", "orchard-festival"]
    assert [(f.source, f.reason) for f in failures] == [
        (str(tmp_path / "missing.txt"), "no such file")
    ]


def test_duplicate_ids_are_made_unique(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for sub in ("a", "b"):
        (tmp_path / sub / "same.txt").write_text(f"Title {sub}\n\nBody of {sub}.")
    articles, _ = load_articles([str(tmp_path)])
    assert len({a.id for a in articles}) == 2


# --- URLs, from a local HTTP server --------------------------------------------------


PAGES = {
    "/comet.html": ("text/html; charset=utf-8", OBSERVATORY),
    "/note.txt": ("text/plain", b"Plain note\n\nThe river rose by two metres overnight."),
    "/huge.html": ("text/html", b"<p>" + b"x" * 200_000 + b"</p>"),
    "/slow.html": ("text/html", b"<p>late</p>"),
}


def local(**config: object) -> Fetcher:
    """A fetcher that may reach the test's server on 127.0.0.1."""
    return Fetcher(FetchConfig(fetch_allowed_networks=LOOPBACK, **config))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_pages(PAGES, slow={"/slow.html": 2}) as base:
        yield base


def test_url_html_is_extracted(server: str) -> None:
    article = load_url(f"{server}/comet.html", local())
    assert "new comet" in article.title
    assert article.published == "2023-05-02"
    assert article.source == f"{server}/comet.html"
    assert article.id.startswith("comet-")


def test_url_plain_text(server: str) -> None:
    article = load_url(f"{server}/note.txt", local())
    assert article.title == "Plain note"
    assert article.text == "The river rose by two metres overnight."


def test_url_errors_are_clear(server: str) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        load_url(f"{server}/gone.html", local())
    with pytest.raises(SourceError, match="byte limit"):
        load_url(f"{server}/huge.html", local(fetch_max_bytes=100_000))
    with pytest.raises(SourceError, match="no answer within"):
        load_url(f"{server}/slow.html", local(fetch_timeout_seconds=0.3))
    with pytest.raises(SourceError, match="could not fetch"):
        load_url("http://127.0.0.1:9/unreachable.html", local(fetch_timeout_seconds=2))


def test_loading_shows_progress_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    """The command line's progress object draws a bar (on stderr, for a terminal);
    the default one, which bots and tests get, draws nothing."""
    sources = [str(bundled_dir() / "articles"), str(FIXTURES)]
    quiet, _ = load_articles(sources)
    assert capsys.readouterr().err == ""
    shown, _ = load_articles(sources, progress=Progress(shown=True))
    bar = capsys.readouterr().err
    assert "Loading" in bar and f"{len(shown)} article" in bar
    assert [a.id for a in shown] == [a.id for a in quiet]
