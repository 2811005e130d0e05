"""Files and folders that only the bot's own user may read: article text,
embeddings, questions and user ids live under data_dir, so what ArticleBot
creates there is 0700 (folders) and 0600 (databases), whatever the umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def private_dirs(path: Path) -> None:
    """Create `path` and any missing parents as 0700; existing folders are left as they are."""
    path = Path(path)
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask


def private_file(path: Path) -> Path:
    """Make sure `path` exists and only its owner can read or write it (0600)."""
    private_dirs(Path(path).parent)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)
    return Path(path)
