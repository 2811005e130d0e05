"""The lifecycle tests' folders: the sources an operator edits, and the index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.lifecycle.helpers import BUNDLED, FIXTURES


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A sources folder an operator edits: the bundled article and the bridge story."""
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(BUNDLED, folder)
    shutil.copy(FIXTURES / "harbour-bridge.txt", folder)
    return folder


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"
