"""Files on disk: written durably (fsync), and private where they must be.

Article text, embeddings, questions and user ids live under data_dir, so what
ArticleBot creates there is 0700 (folders) and 0600 (databases), whatever the
umask."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
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


def write_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` with `write`, then flush it to the disk."""
    write(path)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_text(path: Path, text: str) -> None:
    write_file(path, lambda p: p.write_text(text, encoding="utf-8"))


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
