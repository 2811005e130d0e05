"""The wheel carries the settings file and the bundled article, so `pip install .` works."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_config_and_bundled_article(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("articlebot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "bot/_config/articlebot.toml" in names
    assert "bot/_config/articles/russia-leaves-iss.txt" in names
    assert "bot/core.py" in names and "index/store.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "articlebot = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
