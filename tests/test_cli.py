"""The command line: the documented contract, exit statuses and messages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from index.embedding.embedder import Embedder
from index.storage.layout import read_pointer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ARTICLEBOT_INDEX_DIR", raising=False)
    monkeypatch.delenv("ARTICLEBOT_CONFIG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.model  # runs the command line, which loads the real model
def test_first_ask_builds_the_bundled_index(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "ask", "When was the International Space Station launched?")
    assert code == 0, err
    assert "1998" in out
    assert "Russia plans to leave the International Space Station" in out
    assert read_pointer(tmp_path / "data" / "index")


def test_ask_json(capsys: pytest.CaptureFixture[str], bundled_index_dir: Path) -> None:
    code, out, _ = run(
        capsys, "ask", "--index-dir", str(bundled_index_dir), "--json", "How long was Mir in orbit?"
    )
    assert code == 0
    (data,) = json_lines(out)
    assert data["question"] == "How long was Mir in orbit?"
    assert "15 years" in data["answer"] and data["abstained"] is False
    source = data["sources"][0]
    assert source["article"] == "russia-leaves-iss" and source["title"].startswith("Russia plans")
    assert "15 years" in source["text"] and isinstance(source["score"], float)


def test_abstention_is_success(capsys: pytest.CaptureFixture[str], bundled_index_dir: Path) -> None:
    code, out, _ = run(
        capsys,
        "ask",
        "--index-dir",
        str(bundled_index_dir),
        "--json",
        "Who won the 2022 World Cup?",
    )
    assert code == 0
    (data,) = json_lines(out)
    assert data["abstained"] is True and data["sources"] == []


def test_summary_of_the_only_article(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path
) -> None:
    code, out, _ = run(capsys, "summary", "--index-dir", str(bundled_index_dir), "--json")
    assert code == 0
    (data,) = json_lines(out)
    assert data["answer"].startswith("Russia plans to leave the International Space Station: ")
    assert data["abstained"] is False and data["sources"][0]["article"] == "russia-leaves-iss"


def test_ask_file_from_stdin_in_order(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = "How long was Mir in orbit?\n\nWhen was the International Space Station launched?\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(questions.encode())))
    code, out, _ = run(
        capsys, "ask", "--index-dir", str(bundled_index_dir), "--json", "--file", "-"
    )
    assert code == 0
    rows = json_lines(out)
    assert [r["question"] for r in rows] == [
        "How long was Mir in orbit?",
        "When was the International Space Station launched?",
    ]
    assert "1998" in rows[1]["answer"]


def test_ask_file_with_a_bad_line_answers_the_rest(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(b"???\nHow long was Mir in orbit?\n\xff\xfe\n")
    code, out, err = run(
        capsys, "ask", "--index-dir", str(bundled_index_dir), "--json", "--file", str(path)
    )
    assert code == 2
    assert "15 years" in json_lines(out)[0]["answer"]
    assert err.count("empty") == 2 and "Traceback" not in err


def test_search_json(capsys: pytest.CaptureFixture[str], bundled_index_dir: Path) -> None:
    code, out, _ = run(
        capsys,
        "search",
        "--index-dir",
        str(bundled_index_dir),
        "--json",
        "--top-k",
        "2",
        "Mir orbit",
    )
    assert code == 0
    (data,) = json_lines(out)
    assert data["question"] == "Mir orbit"
    assert [p["rank"] for p in data["passages"]] == [1, 2]
    assert {"rank", "article", "title", "text", "score"} <= set(data["passages"][0])
    assert data["passages"][0]["score"] >= data["passages"][1]["score"]


@pytest.mark.model  # runs the command line, which loads the real model
def test_index_build_from_sources_then_ask(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    code, out, err = run(capsys, "index", "build", str(FIXTURES), "--index-dir", str(index_dir))
    assert code == 0, err
    assert "Indexed 3 article(s)" in out
    code, out, _ = run(
        capsys, "ask", "--index-dir", str(index_dir), "How much did the bridge cost?"
    )
    assert code == 0 and "412 million" in out


@pytest.mark.model  # runs the command line, which loads the real model
def test_index_build_reports_failed_sources_and_indexes_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    index_dir = tmp_path / "idx"
    missing = tmp_path / "missing.txt"
    code, out, err = run(
        capsys, "index", "build", str(FIXTURES), str(missing), "--index-dir", str(index_dir)
    )
    assert code == 2
    assert "Indexed 3 article(s)" in out
    assert f"not indexed: {missing}: no such file" in err
    assert "Traceback" not in err


def test_nothing_loadable_leaves_the_index_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundled_index_dir: Path
) -> None:
    before = read_pointer(bundled_index_dir)
    empty = tmp_path / "empty.txt"
    empty.write_text("Title only\n")
    code, _, err = run(capsys, "index", "build", str(empty), "--index-dir", str(bundled_index_dir))
    assert code == 2
    assert "unchanged" in err and "no text" in err
    assert read_pointer(bundled_index_dir) == before


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exit_2(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path, question: str
) -> None:
    code, out, err = run(capsys, "ask", "--index-dir", str(bundled_index_dir), question)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "empty" in err


def test_missing_index_dir_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "ask", "--index-dir", str(tmp_path / "none"), "Anything?")
    assert code == 2
    assert "no index at" in err and "articlebot index build" in err


def test_index_dir_from_environment(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTICLEBOT_INDEX_DIR", str(bundled_index_dir))
    code, out, _ = run(capsys, "ask", "--json", "How long was Mir in orbit?")
    assert code == 0 and json_lines(out)[0]["index_version"] == read_pointer(bundled_index_dir)


def test_corrupt_index_exit_1_with_the_file_named(
    capsys: pytest.CaptureFixture[str], index_copy: Path
) -> None:
    version = index_copy / "versions" / read_pointer(index_copy)
    (version / "chunk-text.bin").write_text("")
    code, _, err = run(capsys, "ask", "--index-dir", str(index_copy), "Anything?")
    assert code == 1
    assert "chunk-text.bin" in err and "articlebot index build" in err and "Traceback" not in err


def test_debug_shows_the_traceback_of_every_error(
    capsys: pytest.CaptureFixture[str], index_copy: Path, tmp_path: Path
) -> None:
    version = index_copy / "versions" / read_pointer(index_copy)
    (version / "chunk-text.bin").write_text("")
    code, _, err = run(capsys, "--debug", "ask", "--index-dir", str(index_copy), "Anything?")
    assert code == 1 and "Traceback" in err and "IndexCorruptError" in err
    assert err.rstrip().endswith("articlebot index build`")  # the message is still the last line
    code, _, err = run(capsys, "--debug", "ask", "--index-dir", str(tmp_path / "none"), "x")
    assert code == 2 and "Traceback" in err and "IndexMissingError" in err


def test_every_error_carries_its_exit_status() -> None:
    """Two kinds: the user's input (2) and the operator's environment (1)."""
    import bot.errors
    import index.errors
    from index.errors import ArticleBotError, InputError, OperatorError

    errors = [
        value
        for module in (bot.errors, index.errors)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ArticleBotError)
    ]
    assert len(errors) > 15
    for error in errors:
        if error is not ArticleBotError:
            assert issubclass(error, InputError) != issubclass(error, OperatorError), error
        assert error.exit_code == (2 if issubclass(error, InputError) else 1), error


def test_serving_shows_start_up_information_by_default() -> None:
    import logging

    from bot.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(debug=False, json_format=False, serving=True)
        assert logging.getLogger("bot.process.launcher").isEnabledFor(logging.INFO)
        configure_logging(debug=False, json_format=False, serving=False)
        assert not logging.getLogger("bot.process.launcher").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("bot").setLevel(logging.NOTSET)
        logging.getLogger("index").setLevel(logging.NOTSET)


@pytest.mark.model  # runs the command line, which loads the real model
def test_bad_usage_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ask", "--top-k", "0", "x")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    code, _, err = run(capsys, "ask")
    assert code == 2 and "QUESTION or --file" in err


def test_settings_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundled_index_dir: Path
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'index_dir = "{bundled_index_dir}"\nmin_score = 2.9\n')
    code, out, _ = run(
        capsys, "--config", str(config), "ask", "--json", "How long was Mir in orbit?"
    )
    assert code == 0
    assert json_lines(out)[0]["abstained"] is True  # the file's threshold was applied


def test_real_process_no_traceback_and_debug_shows_it(
    tmp_path: Path, bundled_index_dir: Path
) -> None:
    """The installed console script, as a user runs it."""
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(tmp_path)}
    exe = Path(sys.executable).parent / "articlebot"
    done = subprocess.run(
        [str(exe), "ask", "--index-dir", str(tmp_path / "none"), "hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    version = bundled_index_dir / "versions" / read_pointer(bundled_index_dir)
    broken = tmp_path / "broken"
    (broken / "versions").mkdir(parents=True)
    (broken / "CURRENT").write_text(version.name)
    (broken / "versions" / version.name).mkdir()
    done = subprocess.run(
        [str(exe), "--debug", "ask", "--index-dir", str(broken), "hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1 and "manifest.json is missing" in done.stderr


def test_invalid_settings_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('top_k = "many"\n')
    code, _, err = run(capsys, "--config", str(config), "ask", "x")
    assert code == 2 and "invalid settings: top_k" in err and "Traceback" not in err
    code, _, err = run(capsys, "--config", str(tmp_path / "absent.toml"), "ask", "x")
    assert code == 2 and "absent.toml does not exist" in err


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ("discord_shard_ids = [0]", "discord_shard_ids needs discord_shard_count"),
        ("discord_shard_count = 2\ndiscord_shard_ids = [2]", "each must be from 0 to 1"),
        ("discord_shard_count = 0", "discord_shard_count"),
    ],
)
def test_discord_shards_are_checked_at_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: str, message: str
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(shards + "\n")
    code, _, err = run(capsys, "--config", str(config), "serve", "discord")
    assert code == 2 and message in err and "Traceback" not in err


def test_chat_console(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = "How long was Mir in orbit?\n???\nWho won the 2022 World Cup?\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code, out, _ = run(capsys, "chat", "--index-dir", str(bundled_index_dir))
    assert code == 0
    assert "15 years" in out and "the question is empty" in out and "couldn't find" in out


def test_settings_file_with_secrets_must_be_private(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundled_index_dir: Path
) -> None:
    config = tmp_path / "secret.toml"
    config.write_text(f'index_dir = "{bundled_index_dir}"\ndiscord_token = "top-secret-token"\n')
    config.chmod(0o644)
    code, out, err = run(capsys, "--config", str(config), "ask", "How long was Mir in orbit?")
    assert code == 2 and "holds secrets and other users can read it" in err
    assert f"chmod 600 {config}" in err and "top-secret-token" not in out + err
    config.chmod(0o600)
    assert run(capsys, "--config", str(config), "ask", "How long was Mir in orbit?")[0] == 0
    public = tmp_path / "public.toml"  # no secrets: any mode is fine
    public.write_text(f'index_dir = "{bundled_index_dir}"\n')
    public.chmod(0o644)
    assert run(capsys, "--config", str(public), "ask", "How long was Mir in orbit?")[0] == 0


@pytest.mark.parametrize(
    "line",
    [
        'DISCORD_TOKEN = "top-secret-token"',
        '"discord_token" = "top-secret-token"',
        'ARTICLEBOT_DISCORD_TOKEN = "top-secret-token"',
        'Slack_Bot_Token = "top-secret-token"',
        "slack_signing_secret = 'top-secret-token'",
        'SLACK_APP_TOKEN = """top-secret-token"""',
        'openai_api_key = "top-secret-token"',
        '[extra]\nOPENAI_API_KEY = "top-secret-token"',
        'sources = ["https://editor:top-secret-token@news.example/feed.xml"]',
        'sources = ["https://news.example/feed.xml?api_key=top-secret-token"]',
        'milvus_uri = "https://root:top-secret-token@milvus.example:19530"',
        '[collections.sport]\nsources = ["https://news.example/f;jsessionid=top-secret-token"]',
    ],
)
def test_every_spelling_of_a_secret_makes_a_readable_file_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, line: str
) -> None:
    config = tmp_path / "secret.toml"  # refused before any index is opened
    config.write_text(f'index_dir = "{tmp_path / "index"}"\n{line}\n')
    config.chmod(0o640)
    code, out, err = run(capsys, "--config", str(config), "ask", "How long was Mir in orbit?")
    assert code == 2 and "holds secrets and other users can read it" in err
    assert "top-secret-token" not in out + err


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_settings_file_others_can_write_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: int
) -> None:
    config = tmp_path / "public.toml"  # no secrets, but whoever writes it can redirect tokens
    config.write_text(
        f'index_dir = "{tmp_path / "index"}"\ndiscord_api_base_url = "http://127.0.0.1:9"\n'
    )
    config.chmod(mode)
    code, _out, err = run(capsys, "--config", str(config), "ask", "How long was Mir in orbit?")
    assert code == 2 and "can be changed by other users" in err and f"chmod go-w {config}" in err


def test_a_settings_file_that_is_not_toml_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("discord_token = \n")
    config.chmod(0o600)
    code, _out, err = run(capsys, "--config", str(config), "ask", "anything")
    assert code == 2 and "is not valid TOML" in err and "Traceback" not in err


def test_missing_model_files_are_a_clear_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundled_index_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARTICLEBOT_MODEL_PATH", str(tmp_path / "no-model"))
    code, _, err = run(capsys, "ask", "--index-dir", str(bundled_index_dir), "Anything?")
    assert code == 1 and "no model files at" in err and "Traceback" not in err


def test_corrupt_index_stops_a_bot_with_the_file_named(
    capsys: pytest.CaptureFixture[str], index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (index_copy / "versions" / read_pointer(index_copy) / "vectors.faiss").write_bytes(b"garbage")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-any")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "any")
    code, _, err = run(capsys, "serve", "slack", "--index-dir", str(index_copy))
    assert code == 1 and "vectors.faiss" in err and "articlebot index build" in err


def test_the_settings_file_and_the_settings_agree() -> None:
    """config/articlebot.toml names only real settings, with their declared defaults:
    each setting is declared once, in its layer's section, and documented there."""
    import tomllib

    from bot.settings import Settings, bundled_dir

    shipped = tomllib.loads((bundled_dir() / "articlebot.toml").read_text())
    fields = Settings.model_fields
    assert set(shipped) <= set(fields), set(shipped) - set(fields)
    for key, value in shipped.items():
        default = fields[key].get_default(call_default_factory=True)
        assert value == default, (key, value, default)
    assert len(shipped) > 40  # most settings are written out, with what they mean


SKY = f"""
[collections.sky]
sources = ["{FIXTURES / "observatory.html"}"]
channels = ["CSKY", 920000000000000005]
min_score = 0.5
"""


@pytest.mark.model  # runs the command line, which loads the real model
def test_commands_take_a_collection(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`--collection sky` builds, lists and asks the [collections.sky] of the settings
    file, in its own index folder; the default collection does not hold its article."""
    config = tmp_path / "settings.toml"
    config.write_text(SKY)
    sky = ["--config", str(config)]
    code, out, err = run(capsys, *sky, "index", "build", "--collection", "sky")
    assert code == 0, err
    assert "Indexed 1 article(s)" in out and str(tmp_path / "data" / "collections" / "sky") in out
    code, out, _ = run(capsys, *sky, "index", "list", "--collection", "sky", "--json")
    assert [row["id"] for row in json.loads(out)] == ["observatory"]
    comet = "What is the new comet called?"
    code, out, _ = run(capsys, *sky, "ask", "--collection", "sky", "--json", comet)
    assert code == 0 and "C/2023 H2" in json_lines(out)[0]["answer"]
    code, out, _ = run(capsys, *sky, "ask", "--json", comet)  # the default: the bundled article
    assert code == 0 and json_lines(out)[0]["abstained"] is True


def test_an_unknown_collection_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(SKY)
    for command in (["ask", "x"], ["index", "status"], ["report"]):
        code, _, err = run(capsys, "--config", str(config), *command, "--collection", "sports")
        assert code == 2, command
        assert "no collection named 'sports' (there are: default, sky)" in err


def test_collections_in_the_settings_file_are_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A channel in two collections, a bad name, a collection without sources, an
    unknown key: each a short message naming the problem."""
    config = tmp_path / "settings.toml"
    cases = {
        SKY + '[collections.sport]\nsources = ["x"]\nchannels = ["CSKY"]\n': (
            "channel CSKY is in collections sky and sport"
        ),
        '[collections."Sport News"]\nsources = ["x"]\n': "collection name 'Sport News'",
        "[collections.sport]\nchannels = []\n": "collections.sport.sources",
        SKY + f'index_dir = "{tmp_path / "data" / "index"}"\n': "collections default and sky share",
        '[collections.sport]\nsources = ["x"]\nchanels = ["C1"]\n': "chanels",
    }
    for text, message in cases.items():
        config.write_text(text)
        code, _, err = run(capsys, "--config", str(config), "ask", "x")
        assert code == 2 and message in err and "Traceback" not in err, (text, err)


def test_a_collection_sees_its_own_sources_index_and_threshold(tmp_path: Path) -> None:
    from bot.settings import load_settings

    settings = load_settings(
        data_dir=tmp_path,
        min_score=0.95,
        collections={
            "sky": {"sources": ["sky"], "channels": [920000000000000005], "min_score": 0.5},
            "sport": {"sources": ["sport"], "index_dir": str(tmp_path / "sport")},
        },
    )
    sky, sport = settings.for_collection("sky"), settings.for_collection("sport")
    assert sky.sources == ["sky"] and sky.min_score == 0.5
    assert sky.resolved_index_dir == tmp_path / "collections" / "sky" / "index"
    assert sport.min_score == 0.95 and sport.resolved_index_dir == tmp_path / "sport"
    assert settings.collection_of(920000000000000005) == "sky"
    assert settings.collection_of("920000000000000005") == "sky"
    assert settings.collection_of("C1") == settings.collection_of(None) == "default"
    assert settings.for_collection(None) is settings is settings.for_collection("default")


# --- README promises --------------------------------------------------------------------------


def test_search_file_answers_each_line_in_order(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("How long was Mir in orbit?\n\nWhat is Roscosmos?\n")
    index = ["--index-dir", str(bundled_index_dir)]
    code, out, _ = run(capsys, "search", *index, "--json", "--file", str(questions))
    assert code == 0
    first, second = json_lines(out)
    assert first["question"] == "How long was Mir in orbit?"
    assert second["question"] == "What is Roscosmos?"
    assert "15 years" in first["passages"][0]["text"]


@pytest.mark.model  # runs the command line, which loads the real model
def test_top_k_sets_how_many_passages_are_searched_and_cited(
    capsys: pytest.CaptureFixture[str], bundled_index_dir: Path
) -> None:
    index = ["--index-dir", str(bundled_index_dir), "--json"]
    for k in (1, 3):
        code, out, _ = run(capsys, "search", *index, "--top-k", str(k), "Mir orbit")
        assert code == 0 and len(json_lines(out)[0]["passages"]) == k
    question = "What is the name of Russia's space agency?"  # answered from two passages
    cited = [
        len(json_lines(run(capsys, "ask", *index, *top_k, question)[1])[0]["sources"])
        for top_k in ([], ["--top-k", "1"])
    ]
    assert cited == [2, 1]


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults < config/articlebot.toml < --config < ARTICLEBOT_* < options."""
    from bot import settings as settings_module
    from bot.settings import Settings, load_settings

    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "articlebot.toml").write_text("top_k = 9\nmin_score = 0.9\n")
    monkeypatch.setattr(settings_module, "bundled_dir", lambda: bundled)
    mine = tmp_path / "mine.toml"
    mine.write_text("top_k = 8\n")
    mine.chmod(0o600)
    assert Settings().top_k == 5  # the default in code
    assert load_settings().top_k == 9
    assert load_settings(mine).top_k == 8 and load_settings(mine).min_score == 0.9
    monkeypatch.setenv("ARTICLEBOT_TOP_K", "7")
    assert load_settings(mine).top_k == 7
    assert load_settings(mine, top_k=6).top_k == 6


@pytest.mark.model  # runs the command line, which loads the real model
def test_an_index_built_with_another_model_is_exit_2(
    capsys: pytest.CaptureFixture[str], index_copy: Path
) -> None:
    manifest_path = index_copy / "versions" / read_pointer(index_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_name"] = "some-other-model"
    manifest_path.write_text(json.dumps(manifest))
    code, _, err = run(capsys, "ask", "--index-dir", str(index_copy), "When was it launched?")
    assert code == 2 and "some-other-model" in err and "articlebot index build" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.model  # runs the command line, which loads the real model
def test_chat_picks_up_a_new_version_between_questions(
    capsys: pytest.CaptureFixture[str],
    index_copy: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A version published while `chat` waits at the prompt answers the next question."""
    from index.build.directory import IndexDirectory
    from index.sources.articles import load_articles

    bridge = "How much did the harbour bridge cost?"

    def typed() -> object:
        yield bridge  # not in the index yet
        articles, _ = load_articles([str(FIXTURES / "harbour-bridge.txt")])
        IndexDirectory(index_copy, embedder).add(articles)  # as another process would publish
        yield bridge
        yield ""

    answers = typed()
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    code, out, _ = run(capsys, "chat", "--index-dir", str(index_copy))
    assert code == 0
    before, after = out.split("412 million", 1)  # the second answer has the cost
    assert "couldn't find" in before and "couldn't find" not in after


@pytest.mark.model  # runs the command line, which loads the real model
def test_articlebot_config_names_the_settings_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundled_index_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ARTICLEBOT_CONFIG=FILE does what --config FILE does."""
    config = tmp_path / "settings.toml"
    config.write_text(f'index_dir = "{bundled_index_dir}"\nmin_score = 2.9\n')
    monkeypatch.setenv("ARTICLEBOT_CONFIG", str(config))
    code, out, _ = run(capsys, "ask", "--json", "How long was Mir in orbit?")
    assert code == 0 and json_lines(out)[0]["abstained"] is True  # the file's threshold


def test_data_dir_defaults_to_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import load_settings

    monkeypatch.delenv("ARTICLEBOT_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert load_settings().data_dir == tmp_path / "xdg" / "articlebot"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert load_settings().data_dir == tmp_path / "home" / ".local" / "share" / "articlebot"


@pytest.mark.model  # runs the command line, which loads the real model
def test_ask_file_loads_the_model_once_for_all_questions(
    capsys: pytest.CaptureFixture[str],
    bundled_index_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import onnxruntime

    sessions: list[object] = []
    real = onnxruntime.InferenceSession

    def counted(*args: object, **kwargs: object) -> object:
        sessions.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", counted)
    questions = tmp_path / "questions.txt"
    questions.write_text("How long was Mir in orbit?\nWhat is Roscosmos?\nWho built Mir?\n")
    index = ["--index-dir", str(bundled_index_dir)]
    code, out, _ = run(capsys, "ask", *index, "--json", "--file", str(questions))
    assert code == 0 and len(json_lines(out)) == 3
    assert len(sessions) == 2  # the encoder and the reranker, once each for all three
