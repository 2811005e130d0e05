"""A disk that fails at a chosen step: every file opened for writing, every write to
it, directory made, rename, replace, hard link, fsync and FAISS index write counts
as a step, and the N-th raises ENOSPC, as a full disk would. A write that fails is
torn, as on a real disk: the first half of its bytes reach the file before the
error (a FAISS index is left truncated to half its size). Run once without a
failure to count the steps, then once failing at each of them."""

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
        if self._fails(what, path):
            raise disk_full(path)

    def _fails(self, what: str, path: object = None) -> bool:
        """Count a step (one under the root only); is it the one that fails?"""
        if path is not None and not self._under_root(path):
            return False
        self.steps.append(f"{what} {path if path is not None else ''}".strip())
        return len(self.steps) == self.fail_at

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
            if not WRITE_MODES & set(mode):
                return real_open(file, mode, *args, **kwargs)
            self._step("open", file)
            handle = real_open(file, mode, *args, **kwargs)
            return TornFile(self, handle, file) if self._under_root(file) else handle

        def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if not flags & WRITE_FLAGS:
                return real_os_open(path, flags, *args, **kwargs)
            self._step("os.open", path)
            fd = real_os_open(path, flags, *args, **kwargs)
            if self._under_root(path):
                written_fds[fd] = path
            return fd

        written_fds: dict[int, Any] = {}  # descriptors opened for writing under the root

        def os_write(fd: int, data: Any) -> int:
            path = written_fds.get(fd)
            if path is not None and self._fails("os.write", path):
                real_os_write(fd, bytes(data)[: len(data) // 2])
                raise disk_full(path)
            return real_os_write(fd, data)

        real_os_write = os.write

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
        self._patch(os, "write", os_write)
        for name in ("replace", "rename", "link"):
            self._patch(os, name, two_paths(f"os.{name}", getattr(os, name)))
        real_mkdir = os.mkdir

        def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            if not os.path.exists(path):  # an existing one fails with EEXIST, as on a full disk
                self._step("os.mkdir", path)
            real_mkdir(path, *args, **kwargs)

        self._patch(os, "mkdir", mkdir)

        def write_faiss_index(index: Any, path: str) -> None:
            if not self._fails("faiss.write_index", path):
                write_index(index, path)
                return
            write_index(index, path)
            os.truncate(path, os.path.getsize(path) // 2)
            raise disk_full(path)

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


def disk_full(path: object) -> OSError:
    return OSError(errno.ENOSPC, "No space left on device (injected)", str(path or ""))


class TornFile:
    """A file opened for writing under the root: each write is a step, and the one
    that fails writes the first half of its data, flushed, before raising."""

    def __init__(self, disk: FaultyDisk, handle: Any, path: object) -> None:
        self._disk, self._handle, self._path = disk, handle, path

    def write(self, data: Any) -> int:
        if self._disk._fails("write", self._path):
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
            raise disk_full(self._path)
        return self._handle.write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> TornFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Any:
        return iter(self._handle)
