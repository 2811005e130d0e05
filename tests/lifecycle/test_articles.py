"""An index as an operator changes its articles: incremental add, update, remove,
sync, rollback, versions kept, URLs and feeds, credentials never shown, newer
news preferred."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.build.directory import IndexDirectory
from index.storage.layout import has_index, read_pointer, versions
from tests.fakes.background import free_port
from tests.fakes.pages import serve_pages
from tests.lifecycle.helpers import BRIDGE, BUNDLED, FIXTURES, ask_json, cli, manifest_of

# Every change here goes through the command line or a real build: the real model.
pytestmark = pytest.mark.model


# --- add, update, remove, list, status ----------------------------------------------------


def test_add_embeds_only_new_text(capsys: pytest.CaptureFixture[str], index_dir: Path) -> None:
    assert cli(capsys, "index", "build", str(BUNDLED), "--index-dir", str(index_dir))[0] == 0
    first = manifest_of(index_dir)
    code, out, _ = cli(
        capsys, "index", "add", str(FIXTURES / "harbour-bridge.txt"), "--index-dir", str(index_dir)
    )
    assert code == 0 and "added 1, updated 0, removed 0, unchanged 1, failed 0" in out
    second = manifest_of(index_dir)
    bridge_chunks = next(a["chunks"] for a in second.articles if a["id"] == "harbour-bridge")
    assert second.extra["chunks_embedded"] == bridge_chunks  # the old article came from the cache
    assert second.version != first.version
    added = {a["id"]: a["added_at"] for a in second.articles}
    assert added["russia-leaves-iss"] == first.articles[0]["added_at"]
    # adding the same thing again changes nothing and publishes no version
    code, out, _ = cli(
        capsys, "index", "add", str(FIXTURES / "harbour-bridge.txt"), "--index-dir", str(index_dir)
    )
    assert "unchanged 2" in out and "nothing changed" in out
    assert read_pointer(index_dir) == second.version
    # a full rebuild of unchanged articles embeds nothing
    cli(
        capsys,
        "index",
        "build",
        str(BUNDLED),
        str(FIXTURES / "harbour-bridge.txt"),
        "--index-dir",
        str(index_dir),
    )
    assert manifest_of(index_dir).extra["chunks_embedded"] == 0


def test_changed_article_is_never_cited_with_its_old_text(
    capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path
) -> None:
    cli(capsys, "index", "build", str(library), "--index-dir", str(index_dir))
    assert "412 million" in ask_json(capsys, index_dir, BRIDGE)["answer"]
    story = library / "harbour-bridge.txt"
    story.write_text(story.read_text().replace("412 million dollars", "530 million dollars"))
    _code, out, _ = cli(capsys, "index", "add", str(story), "--index-dir", str(index_dir))
    assert "updated 1" in out
    answer = ask_json(capsys, index_dir, BRIDGE)
    assert "530 million" in answer["answer"]
    assert all("412 million" not in s["text"] for s in answer["sources"])


def test_removed_article_is_never_cited_again(
    capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path
) -> None:
    cli(capsys, "index", "build", str(library), "--index-dir", str(index_dir))
    code, out, _ = cli(capsys, "index", "remove", "harbour-bridge", "--index-dir", str(index_dir))
    assert code == 0 and "removed 1" in out
    answer = ask_json(capsys, index_dir, BRIDGE)
    assert answer["abstained"] or all(s["article"] != "harbour-bridge" for s in answer["sources"])
    search = json.loads(
        cli(capsys, "search", "--index-dir", str(index_dir), "--json", "--top-k", "50", BRIDGE)[1]
    )
    assert all(p["article"] != "harbour-bridge" for p in search["passages"])
    code, _, err = cli(capsys, "index", "remove", "no-such-article", "--index-dir", str(index_dir))
    assert code == 2 and "no such article: no-such-article" in err


def test_list_and_status(capsys: pytest.CaptureFixture[str], index_dir: Path) -> None:
    cli(
        capsys,
        "index",
        "build",
        str(FIXTURES / "orchard-festival.md"),
        str(BUNDLED),
        "--index-dir",
        str(index_dir),
    )
    _, out, _ = cli(capsys, "index", "list", "--json", "--index-dir", str(index_dir))
    rows = {r["id"]: r for r in json.loads(out)}
    orchard = rows["orchard-festival"]
    assert (
        orchard["title"] == "Apple festival draws record crowds"
        and orchard["published"] == "2024-09-14"
    )
    assert (
        orchard["source"].endswith("orchard-festival.md")
        and orchard["chunks"] >= 1
        and orchard["added_at"]
    )
    _, out, _ = cli(capsys, "index", "status", "--json", "--index-dir", str(index_dir))
    status = json.loads(out)
    assert status["articles"] == 2 and status["chunks"] >= 2 and status["dimension"] == 384
    assert status["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert status["version"] == read_pointer(index_dir) and status["disk_bytes"] > 0
    assert status["query_embedding"].startswith("onnx (models/all-MiniLM-L6-v2-")
    assert status["vector_index"] == "IndexFlatIP"
    _code, out, _ = cli(capsys, "index", "list", "--index-dir", str(index_dir))
    assert "orchard-festival  2024-09-14" in out


# --- sync, failures, rollback --------------------------------------------------------------


def test_sync_holds_exactly_the_sources(
    capsys: pytest.CaptureFixture[str],
    index_dir: Path,
    library: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli(capsys, "index", "build", str(library), "--index-dir", str(index_dir))
    (library / "harbour-bridge.txt").unlink()
    shutil.copy(FIXTURES / "orchard-festival.md", library)
    code, out, _ = cli(capsys, "index", "sync", str(library), "--index-dir", str(index_dir))
    assert code == 0 and "added 1, updated 0, removed 1, unchanged 1, failed 0" in out
    assert {a.id for a in IndexDirectory(index_dir, None).articles()} == {
        "russia-leaves-iss",
        "orchard-festival",
    }  # type: ignore[arg-type]
    assert ask_json(capsys, index_dir, BRIDGE)["abstained"]
    before = read_pointer(index_dir)
    code, out, _ = cli(capsys, "index", "sync", str(library), "--index-dir", str(index_dir))
    assert "nothing changed" in out and read_pointer(index_dir) == before
    monkeypatch.setenv("ARTICLEBOT_CHUNK_TARGET_TOKENS", "64")  # the same articles, rebuilt
    code, out, _ = cli(capsys, "index", "sync", str(library), "--index-dir", str(index_dir))
    assert code == 0 and "unchanged 2" in out and "build settings differ" in out
    assert read_pointer(index_dir) != before
    assert manifest_of(index_dir).chunking["target_tokens"] == 64


def test_an_article_added_by_hand_stays_until_removed_by_hand(
    capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path
) -> None:
    """`index add` is the operator's own: `index sync` of the sources keeps it, `index
    list` says it was added by hand, and `index remove` takes it out."""
    cli(capsys, "index", "build", str(library), "--index-dir", str(index_dir))
    orchard = str(FIXTURES / "orchard-festival.md")
    cli(capsys, "index", "add", orchard, "--index-dir", str(index_dir))
    (library / "harbour-bridge.txt").unlink()
    code, out, _ = cli(capsys, "index", "sync", str(library), "--index-dir", str(index_dir))
    assert code == 0 and "added 0, updated 0, removed 1, unchanged 2" in out
    _code, out, _ = cli(capsys, "index", "list", "--index-dir", str(index_dir))
    assert "orchard-festival  2024-09-14  1 chunks  added by hand" in out
    assert out.count("by hand") == 1
    shutil.copy(FIXTURES / "orchard-festival.md", library)  # now a source gives it
    code, out, _ = cli(capsys, "index", "sync", str(library), "--index-dir", str(index_dir))
    assert "unchanged 2" in out and "which articles were added by hand changed" in out
    _code, out, _ = cli(capsys, "index", "list", "--index-dir", str(index_dir))
    assert "by hand" not in out
    cli(capsys, "index", "add", orchard, "--index-dir", str(index_dir))  # by hand again
    code, _, _ = cli(capsys, "index", "remove", "orchard-festival", "--index-dir", str(index_dir))
    assert code == 0
    assert [a.id for a in IndexDirectory(index_dir, None).articles()] == ["russia-leaves-iss"]  # type: ignore[arg-type]


def test_failed_source_is_reported_and_the_rest_go_in(
    capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path, tmp_path: Path
) -> None:
    cli(capsys, "index", "build", str(library), "--index-dir", str(index_dir))
    broken = tmp_path / "broken.txt"
    broken.write_text("Only a title\n")
    code, out, err = cli(
        capsys,
        "index",
        "sync",
        str(BUNDLED),
        str(FIXTURES / "orchard-festival.md"),
        str(broken),
        "--index-dir",
        str(index_dir),
    )
    assert code == 2
    assert f"not indexed: {broken}: the article has no text" in err
    assert "added 1" in out and "removed 1" in out  # the bridge story was not among the sources


def test_sync_keeps_an_article_whose_source_failed_this_time(
    capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path
) -> None:
    story = library / "harbour-bridge.txt"
    cli(capsys, "index", "build", str(BUNDLED), str(story), "--index-dir", str(index_dir))
    story.write_bytes(b"")  # emptied (e.g. half-copied): a failure, not a deletion
    code, out, err = cli(
        capsys, "index", "sync", str(BUNDLED), str(story), "--index-dir", str(index_dir)
    )
    assert code == 2 and "harbour-bridge.txt: the article has no text" in err
    assert "removed 0" in out
    assert "412 million" in ask_json(capsys, index_dir, BRIDGE)["answer"]


def test_rollback(capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path) -> None:
    cli(capsys, "index", "build", str(BUNDLED), "--index-dir", str(index_dir))
    first = read_pointer(index_dir)
    cli(capsys, "index", "add", str(library / "harbour-bridge.txt"), "--index-dir", str(index_dir))
    assert "412 million" in ask_json(capsys, index_dir, BRIDGE)["answer"]
    code, out, _ = cli(capsys, "index", "rollback", "--index-dir", str(index_dir))
    assert code == 0 and first in out and read_pointer(index_dir) == first
    assert ask_json(capsys, index_dir, BRIDGE)["abstained"]
    code, _, err = cli(capsys, "index", "rollback", "--index-dir", str(index_dir))
    assert code == 1 and "no older version" in err


def test_keep_versions_setting(
    capsys: pytest.CaptureFixture[str],
    index_dir: Path,
    library: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARTICLEBOT_KEEP_VERSIONS", "2")
    cli(capsys, "index", "build", str(BUNDLED), "--index-dir", str(index_dir))
    cli(capsys, "index", "add", str(library / "harbour-bridge.txt"), "--index-dir", str(index_dir))
    cli(
        capsys, "index", "add", str(FIXTURES / "orchard-festival.md"), "--index-dir", str(index_dir)
    )
    assert len(versions(index_dir)) == 2


# --- URLs and feeds ----------------------------------------------------------------------------


@pytest.fixture
def news_site() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    page = "<html><head><title>{t}</title></head><body><article><h1>{t}</h1><p>{p}</p></article></body></html>"
    pages = {
        "/comet.html": ("text/html", (FIXTURES / "observatory.html").read_bytes()),
        "/ferry.html": (
            "text/html",
            page.format(
                t="Ferry service returns",
                p="The island ferry service resumed on Friday after a three-week strike by the crew, the operator Bluewater Lines said.",
            ).encode(),
        ),
        "/market.html": (
            "text/html",
            page.format(
                t="Night market opens",
                p="A new night market with sixty stalls opened in the old tram depot, selling street food from twelve countries.",
            ).encode(),
        ),
        "/feed.xml": (
            "application/rss+xml",
            f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Valley News</title>
<item><title>Ferry service returns</title><link>{base}/ferry.html</link><pubDate>Fri, 07 Nov 2025 09:00:00 GMT</pubDate></item>
<item><title>Night market opens</title><link>{base}/market.html</link><pubDate>Sat, 08 Nov 2025 18:00:00 GMT</pubDate></item>
<item><title>Gone</title><link>{base}/gone.html</link></item>
</channel></rss>""".encode(),
        ),
    }
    with serve_pages(pages, port=port) as served:
        assert served == base
        yield base


def test_url_and_feed_are_ingested(
    capsys: pytest.CaptureFixture[str],
    index_dir: Path,
    news_site: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # by default a source on a loopback address is refused, and nothing is built
    code, _out, err = cli(
        capsys, "index", "build", f"{news_site}/feed.xml", "--index-dir", str(index_dir)
    )
    assert code == 2 and "127.0.0.1 is a loopback address" in err and not has_index(index_dir)
    monkeypatch.setenv("ARTICLEBOT_FETCH_ALLOWED_NETWORKS", '["127.0.0.0/8"]')
    code, _out, err = cli(
        capsys,
        "index",
        "build",
        f"{news_site}/comet.html",
        f"{news_site}/feed.xml",
        "--index-dir",
        str(index_dir),
    )
    assert (
        code == 2 and f"not indexed: {news_site}/gone.html: HTTP 404" in err
    )  # reported, not fatal
    rows = {r["title"]: r for r in manifest_of(index_dir).articles}
    assert rows["Ferry service returns"]["published"] == "2025-11-07"  # from the feed entry
    assert rows["Ferry service returns"]["source"] == f"{news_site}/ferry.html"
    assert "Night market opens" in rows
    answer = ask_json(capsys, index_dir, "Who operates the island ferry?")
    assert (
        "Bluewater Lines" in answer["answer"]
        and answer["sources"][0]["source"] == f"{news_site}/ferry.html"
    )


def test_credentials_in_source_urls_never_reach_logs_or_listings(
    capsys: pytest.CaptureFixture[str],
    index_dir: Path,
    news_site: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARTICLEBOT_FETCH_ALLOWED_NETWORKS", '["127.0.0.0/8"]')
    host = news_site.removeprefix("http://")
    good = f"http://editor:hunter2@{host}/ferry.html?api_key=SEKRET123"
    bad = f"http://editor:hunter2@{host}/gone.html?token=SEKRET123"
    code, out, err = cli(
        capsys, "--debug", "index", "build", good, bad, "--index-dir", str(index_dir)
    )
    assert code == 2 and "DEBUG" in err  # built, one source failed, debug logging was on
    assert f"not indexed: http://{host}/gone.html?token=REDACTED: HTTP 404" in err
    _code, listing, _err = cli(capsys, "index", "list", "--json", "--index-dir", str(index_dir))
    answer = ask_json(capsys, index_dir, "Who operates the island ferry?")
    assert answer["sources"][0]["source"] == f"http://{host}/ferry.html?api_key=REDACTED"
    for shown in (out, err, listing, json.dumps(answer)):
        assert "hunter2" not in shown and "SEKRET123" not in shown


def test_latest_news_prefers_newer_articles(
    capsys: pytest.CaptureFixture[str], index_dir: Path
) -> None:
    cli(
        capsys,
        "index",
        "build",
        str(FIXTURES.parent / "fixtures-dated"),
        "--index-dir",
        str(index_dir),
    )
    # asked for the latest news, a passage near the subject answers: its sentences' own
    # evidence (0.62 and 0.48 here) would abstain
    for question in ("What is the latest news about the harbour bridge?", "latest on the bridge?"):
        latest = ask_json(capsys, index_dir, question)
        assert latest["sources"][0]["published"] == "2025-06-02"
        assert "delayed" in latest["answer"]
