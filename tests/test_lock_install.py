"""deploy/install.sh installs a lock file exactly as written: it never resolves.

A resolving install let pip 23.2 pick a newer release than the lock names whenever a
package asked for another one with an extra (justext asks for `lxml[html_clean]`), so
a release made after the lock broke every install. These tests run the real script
on a small lock of packages the test makes, from a local folder the test fills that
also offers a newer release: no network, no package index but that folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def write_wheel(folder: Path, name: str, version: str, metadata: list[str]) -> Path:
    """A pure-Python wheel of one empty module, with `metadata` lines in METADATA."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist_info}/METADATA": "\n".join(
            ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *metadata, ""]
        ),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = [f"{path},sha256={digest(text.encode())},{len(text)}" for path, text in files.items()]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,", ""])
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def lock_line(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return (
        f"{name}=={version} \\\n    --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"
    )


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """justpkg asks for `libpkg[clean]` as justext asks for `lxml[html_clean]`; the
    folder offers libpkg 1.0, which the lock names, and a newer 2.0."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    write_wheel(folder, "justpkg", "1.0", ["Requires-Dist: libpkg[clean]>=1.0"])
    for version in ("1.0", "2.0"):
        write_wheel(
            folder,
            "libpkg",
            version,
            ["Provides-Extra: clean", 'Requires-Dist: cleanpkg; extra == "clean"'],
        )
    write_wheel(folder, "cleanpkg", "1.0", [])
    return folder


# The project's own build backend, in tree: the venv holds no build tool, and the
# script installs the project with --no-build-isolation, as it does ArticleBot.
TINY_BACKEND = """
import zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "tinyproject-0.1-py3-none-any.whl"
    info = "tinyproject-0.1.dist-info/"
    with zipfile.ZipFile(wheel_directory + "/" + name, "w") as wheel:
        wheel.writestr("tinyproject.py", "")
        wheel.writestr(info + "METADATA", "Metadata-Version: 2.1\\nName: tinyproject\\n"
                       "Version: 0.1\\nRequires-Dist: justpkg==1.0\\n")
        wheel.writestr(info + "WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\n"
                       "Tag: py3-none-any\\n")
        wheel.writestr(info + "RECORD", "")
    return name
"""


def checkout_with_lock(tmp_path: Path, wheelhouse: Path, locked: list[str]) -> Path:
    """A checkout holding the real install script, a one-module project and a serving
    lock of the named wheels (`name-version`) with their hashes."""
    root = tmp_path / "checkout"
    (root / "deploy").mkdir(parents=True)
    shutil.copy2(ROOT / "deploy" / "install.sh", root / "deploy" / "install.sh")
    (root / "tinybackend.py").write_text(TINY_BACKEND)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "tinybackend"\nbackend-path = ["."]\n'
    )
    wheels = [wheelhouse / f"{stem}-py3-none-any.whl" for stem in locked]
    (root / "requirements-serve.lock").write_text("\n".join(map(lock_line, wheels)) + "\n")
    return root


def install(root: Path, venv: Path, wheelhouse: Path) -> subprocess.CompletedProcess[str]:
    """Run the real install script with the wheelhouse as the only package source (the
    machine's pip configuration left out, so nothing else is asked)."""
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
    }
    return subprocess.run(
        [str(root / "deploy" / "install.sh"), "serve", str(venv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def installed_version(venv: Path, name: str) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {name}; print({name}.VERSION)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_locked_release_is_installed_though_a_newer_one_is_offered(
    tmp_path: Path, wheelhouse: Path
) -> None:
    root = checkout_with_lock(tmp_path, wheelhouse, ["justpkg-1.0", "libpkg-1.0", "cleanpkg-1.0"])
    venv = tmp_path / "venv"
    done = install(root, venv, wheelhouse)
    assert done.returncode == 0, done.stderr
    assert installed_version(venv, "libpkg") == "1.0"
    assert installed_version(venv, "justpkg") == "1.0"


def test_a_lock_missing_a_dependency_fails_naming_it(tmp_path: Path, wheelhouse: Path) -> None:
    write_wheel(wheelhouse, "needy", "1.0", ["Requires-Dist: helperpkg>=2"])
    write_wheel(wheelhouse, "helperpkg", "1.0", [])
    root = checkout_with_lock(
        tmp_path,
        wheelhouse,
        ["justpkg-1.0", "libpkg-1.0", "cleanpkg-1.0", "needy-1.0", "helperpkg-1.0"],
    )
    done = install(root, tmp_path / "venv", wheelhouse)
    assert done.returncode != 0
    assert "needy 1.0 has requirement helperpkg>=2" in done.stdout + done.stderr
