"""Files on disk: written durably (fsync), private where they must be, and the
large ones mapped rather than read.

Article text, embeddings, questions and user ids live under data_dir, so what
ArticleBot creates there is 0700 (folders) and 0600 (databases), whatever the
umask."""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

# Python 3.11.7 (this machine's and CI's) counts the depth of an AST it builds in
# state all threads share, and the GIL can pass to another thread mid-build: two
# threads parsing at once fail with "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905). numpy parses each .npy header with
# ast.literal_eval, and a version's files open on two threads, so every header is
# read under this lock.
NPY_HEADERS = threading.Lock()


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


def replace_text(path: Path, text: str, *, private: bool = False) -> None:
    """Put `text` at `path` with one atomic rename, so a reader sees the old file or the
    new one, never a truncated one, and a crash mid-write leaves the old one intact.
    `private`: only its owner may read it (0600), from the first byte written."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        if private:
            private_file(temporary)
        write_text(temporary, text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # gone after the rename; left by a failed write
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mapped(path: Path) -> np.ndarray:
    """An .npy file mapped read-only, as a plain array (indexing a np.memmap costs a
    Python call each time), read page by page as questions reach its rows. For the
    small per-row indexes of a version; its large files are read with `FileRows`."""
    shape, fortran, dtype, offset = npy_header(path)
    pages = map_file(path)
    count = int(np.prod(shape))
    array = np.frombuffer(pages, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")


def npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """An .npy file's shape, order, dtype, and where its data begins."""
    with NPY_HEADERS, open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(handle)
        return shape, fortran, dtype, handle.tell()


def map_file(path: Path) -> bytes | mmap.mmap:
    """The file's bytes, mapped read-only for reads here and there: without read-ahead,
    which would bring in (and keep resident) the neighbours of every row a question
    reads. An empty file cannot be mapped, and holds nothing."""
    with open(path, "rb") as handle:
        if handle.seek(0, 2) == 0:
            return b""
        pages = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    pages.madvise(mmap.MADV_RANDOM)
    return pages


def read_through(paths: Iterable[Path], budget: int, *, sequential: bool) -> list[Path]:
    """Read files start to end, in order, each that fits in what is left of `budget`
    bytes, so questions find them in the page cache. What was read; a file gone or
    unreadable is passed over.

    `sequential` lets the kernel read ahead of each read: the fastest way through a
    file when nothing else waits on the disk (this machine read 1.3 GB in 1.2 s; by
    page faults, opening a million-passage HNSW index brought in 250 MB in 2.4 s).
    Without it, only what is asked is read, 1 MB at a time, so another thread's read
    waits behind one of them, not behind the kernel's read-ahead (here 8 MB a file,
    16 MB when told the reads are sequential). While 3 GB were read a read at a time,
    eight random 4 KiB reads took 1.6 to 1.9 ms (p50; 0.6 ms with nothing else
    reading), against 16 to 41 ms while the kernel read ahead; the 3 GB took 3.7 to
    3.8 s, against 3.5 to 4.6 s (`bench/archive/read_ahead.py`)."""
    read, buffer = [], bytearray(1 << 20)
    for path in paths:
        try:
            with open(path, "rb", buffering=0) as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > budget:
                    continue
                if hasattr(os, "posix_fadvise"):  # not on macOS
                    advice = os.POSIX_FADV_SEQUENTIAL if sequential else os.POSIX_FADV_RANDOM
                    os.posix_fadvise(handle.fileno(), 0, 0, advice)
                while handle.readinto(buffer):
                    pass
        except OSError:
            continue
        budget -= size
        read.append(path)
    return read


class FileBytes:
    """A file's bytes from `start`, read a slice at a time (pread), for files far larger
    than what questions read of them. Unlike a mapping, what is read stays in the page
    cache, shared and reclaimable, not in this process's memory: a mapped page counts
    as the process's once touched, and the kernel maps up to 16 cached neighbours
    with each one (fault-around), so a long-serving process's share of mapped files
    grows towards their whole size."""

    def __init__(self, path: Path, start: int = 0) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (closed with this object)
        fd = self._file.fileno()
        if hasattr(os, "posix_fadvise"):  # not on macOS
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no read-ahead either
        self._start = start
        self._size = max(0, os.fstat(fd).st_size - start)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, where: slice) -> bytes:
        first, last, step = where.indices(self._size)
        if step != 1:
            raise ValueError("only contiguous slices are read")
        wanted = max(0, last - first)
        data = os.pread(self._file.fileno(), wanted, self._start + first)
        if len(data) != wanted:
            raise ValueError(f"{self._file.name} is shorter than it was when opened")
        return data

    def read_into(self, buffer: memoryview, first: int) -> None:
        """Fill `buffer` with the bytes from `first` on."""
        if os.preadv(self._file.fileno(), [buffer], self._start + first) != len(buffer):
            raise ValueError(f"{self._file.name} is shorter than it was when opened")


class FileRows:
    """The rows of a C-ordered .npy file, read a slice of rows at a time (see
    FileBytes): `rows[a:b]` is a read-only array of those rows."""

    def __init__(self, path: Path) -> None:
        shape, fortran, dtype, offset = npy_header(path)
        if fortran or not shape:
            raise ValueError(f"{path} is not an array of rows")
        self.shape: tuple[int, ...] = shape
        self.dtype: np.dtype = dtype
        self._row_bytes = dtype.itemsize * int(np.prod(shape[1:]))
        self._bytes = FileBytes(path, offset)
        if len(self._bytes) < shape[0] * self._row_bytes:
            raise ValueError(f"{path} is shorter than its header says")

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        first, last, step = rows.indices(len(self))
        if step != 1:
            raise ValueError("only contiguous rows are read")
        last = max(first, last)
        data = self._bytes[first * self._row_bytes : last * self._row_bytes]
        return np.frombuffer(data, dtype=self.dtype).reshape(last - first, *self.shape[1:])

    def take(self, indices: Iterable[int], axis: int = 0) -> np.ndarray:
        """The rows at `indices` (as numpy's `take` along the first axis), each read
        straight into one array: a question re-scores dozens of scattered rows, and
        a slice and an array apiece cost it 0.74 ms per 90 rows against 0.19 here."""
        if axis != 0:
            raise ValueError("rows are taken along the first axis")
        wanted = np.asarray(indices, dtype=np.int64).ravel()
        if wanted.size and (wanted.min() < 0 or wanted.max() >= len(self)):
            raise IndexError(f"rows {wanted.tolist()} are not all within {len(self)}")
        rows = np.empty((len(wanted), *self.shape[1:]), dtype=self.dtype)
        if not rows.size:
            return rows
        into, size = memoryview(rows).cast("B"), self._row_bytes
        for at, row in enumerate(wanted.tolist()):
            self._bytes.read_into(into[at * size : (at + 1) * size], row * size)
        return rows


def save_array(path: Path, array: np.ndarray) -> None:
    """`array` as an .npy file (no pickles), for `mapped` to read."""
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


@contextlib.contextmanager
def scratch_array(folder: Path, rows: int, columns: int) -> Iterator[np.ndarray]:
    """A float32 array backed by a private temporary file in `folder`, removed after
    the block: the kernel can write its pages out, so a build's largest array need
    not fit in memory. Its name starts with `.tmp-`, which pruning removes if a
    killed build left it."""
    if rows == 0:  # an empty file cannot be mapped
        yield np.zeros((0, columns), dtype=np.float32)
        return
    path = private_file(Path(folder) / f".tmp-{secrets.token_hex(6)}.npy")
    try:
        yield np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, columns))
    finally:
        path.unlink(missing_ok=True)
