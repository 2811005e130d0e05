"""What the lifecycle tests share: the article files, and the command line run as an
operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import bundled_dir
from index.storage.layout import read_current

FIXTURES = Path(__file__).parents[1] / "fixtures"
BUNDLED = bundled_dir() / "articles" / "russia-leaves-iss.txt"
BRIDGE = "How much did the harbour bridge cost?"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def ask_json(capsys: pytest.CaptureFixture[str], index_dir: Path, question: str) -> dict:
    code, out, err = cli(capsys, "ask", "--index-dir", str(index_dir), "--json", question)
    assert code == 0, err
    return json.loads(out)


def manifest_of(index_dir: Path):
    current = read_current(index_dir)
    assert current is not None
    return current[0]
