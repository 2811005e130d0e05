"""A throw-away PostgreSQL cluster for the tests: made with initdb in a temporary
folder, listening on a Unix socket there only (no TCP port at all), removed after.

PostgreSQL refuses to run as root, so as root the cluster is made and run as the
`postgres` user (runuser). Where the server binaries are missing this fails with a
message naming the package, never a skip: CI must run these tests.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE_HINT = "install PostgreSQL's server (Debian: apt-get install postgresql-15)"
DATABASE = "articlebot"


def server_binaries() -> Path:
    """The folder holding initdb, pg_ctl and createdb (where a link on PATH leads)."""
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "createdb").exists():
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    raise RuntimeError(f"PostgreSQL's initdb and pg_ctl are not on this machine: {PACKAGE_HINT}")


def as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running cluster with an empty database; yields its URL (a Unix socket)."""
    bin_dir = server_binaries()
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="articlebot-pg-"))
    data, socket_dir = root / "data", root / "socket"
    socket_dir.mkdir()
    if owner:
        shutil.chown(root, owner)
        shutil.chown(socket_dir, owner)

    def run(*command: str) -> None:
        done = subprocess.run(
            as_owner([str(bin_dir / command[0]), *command[1:]], owner),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip() or done.stdout}")

    try:
        run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-k {socket_dir} -c listen_addresses='' -c fsync=off"
        run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        try:
            run("createdb", "-h", str(socket_dir), "-U", "postgres", DATABASE)
            yield f"postgresql://postgres@/{DATABASE}?host={socket_dir}"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
