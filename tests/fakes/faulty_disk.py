"""A disk that fails at a chosen step: every file opened for writing, directory made,
rename, replace, hard link, fsync and FAISS index write counts as a step, and the
N-th raises ENOSPC, as a full disk would. Run once without a failure to count the
steps, then once failing at each of them."""

from __future__ import annotations

import builtins
import errno
import io
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import faiss

WRITE_MODES = set("wax+")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class FaultyDisk:
    def __init__(self, root: Path, fail_at: int | None = None) -> None:
        self.root = str(Path(root).resolve())
        self.fail_at = fail_at
        self.steps: list[str] = []  # each step taken (and the failed one), in order
        self._saved: list[tuple[Any, str, Any]] = []

    def _step(self, what: str, path: object = None) -> None:
        if path is not None and not self._under_root(path):
            return
        self.steps.append(f"{what} {path if path is not None else ''}".strip())
        if len(self.steps) == self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device (injected)", str(path or ""))

    def _under_root(self, path: object) -> bool:
        if isinstance(path, int):  # a file descriptor: counted by the call that opened it
            return False
        try:
            absolute = os.path.abspath(os.fsdecode(path))  # type: ignore[arg-type]
        except TypeError:
            return False
        return absolute == self.root or absolute.startswith(self.root + os.sep)

    def __enter__(self) -> FaultyDisk:
        real_open, real_os_open = builtins.open, os.open

        def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if WRITE_MODES & set(mode):
                self._step("open", file)
            return real_open(file, mode, *args, **kwargs)

        def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & WRITE_FLAGS:
                self._step("os.open", path)
            return real_os_open(path, flags, *args, **kwargs)

        def two_paths(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
            def call(source: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
                self._step(name, target)
                return real(source, target, *args, **kwargs)

            return call

        def fsync(fd: int) -> None:
            self._step("fsync")
            real_fsync(fd)

        real_fsync = os.fsync
        write_index = faiss.write_index
        self._patch(builtins, "open", open_)
        self._patch(io, "open", open_)
        self._patch(os, "open", os_open)
        self._patch(os, "fsync", fsync)
        for name in ("replace", "rename", "link"):
            self._patch(os, name, two_paths(f"os.{name}", getattr(os, name)))
        real_mkdir = os.mkdir

        def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            if not os.path.exists(path):  # an existing one fails with EEXIST, as on a full disk
                self._step("os.mkdir", path)
            real_mkdir(path, *args, **kwargs)

        self._patch(os, "mkdir", mkdir)

        def write_faiss_index(index: Any, path: str) -> None:
            self._step("faiss.write_index", path)
            write_index(index, path)

        self._patch(faiss, "write_index", write_faiss_index)
        return self

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        self._saved.clear()
