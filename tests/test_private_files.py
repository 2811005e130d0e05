"""What ArticleBot creates under data_dir is readable by its own user only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.chat.feedback import FeedbackStore
from index.build.cache import EmbeddingCache
from index.build.publish import BuildLock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_is_0700_and_databases_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, under which files would be 0644
    try:
        data_dir = tmp_path / "fresh" / "articlebot"
        feedback = FeedbackStore(data_dir / "feedback.sqlite3")
        feedback.close()
        with BuildLock(data_dir / "index"):
            pass
        EmbeddingCache(data_dir / "index" / "cache" / "embeddings.sqlite3", "m", 4)
    finally:
        os.umask(old)
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "index") == 0o700
    assert mode(data_dir / "index" / "cache") == 0o700
    assert mode(data_dir / "feedback.sqlite3") == 0o600
    assert mode(data_dir / "index" / "cache" / "embeddings.sqlite3") == 0o600


def test_an_existing_feedback_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    FeedbackStore(path).close()
    path.chmod(0o644)  # as an older version left it
    FeedbackStore(path).close()
    assert mode(path) == 0o600
