"""The index on disk: where each file of an index directory lives, the manifest,
and the CURRENT pointer.

    CURRENT              name of the version in use (replaced atomically)
    versions/<name>/     manifest.json, vectors.faiss and bm25/ (or a Milvus collection:
                         milvus.py), the chunk and article tables (tables.py; older
                         versions hold chunks.jsonl instead), the sentence table
                         (sentences.py), term-stats.json, lexicon.json
    models/<model>.onnx  the embedding model as ONNX, named by its weights; the
                         manifest holds its checksum (index/embedding/onnx_model.py)
    models/<model>/      its tokenizer and sizes: with the export, all that the
                         serving install (no torch, no model package) embeds with
    embeddings.sqlite3   embedding cache shared by all versions (index/build/cache.py)
    .lock                held while a build runs

Every name read from disk (CURRENT, a manifest's files) must be a plain name
inside the index directory, so a tampered file cannot lead outside it.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from index.errors import IndexCorruptError
from index.records import Article
from index.storage.files import replace_text

FORMAT_VERSION = 1
POINTER = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.jsonl"
LEXICAL = "bm25"
LEXICON = "lexicon.json"
TERM_STATS = "term-stats.json"
CACHE = "embeddings.sqlite3"
MODELS = "models"
REBUILD_HINT = "rebuild it with `articlebot index build`"
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Manifest:
    """What an index version holds and how it was made; checked on every load."""

    version: str
    model_name: str
    dimension: int
    max_tokens: int
    chunking: dict
    articles: list[dict]
    chunk_count: int
    files: dict[str, int]
    built_at: str
    build_seconds: float
    format: int = FORMAT_VERSION
    faiss_index: str = "IndexFlatIP"
    onnx: dict | None = None
    extra: dict = field(default_factory=dict)
    # the build settings and code it was made with (index/build/publish.py, build_recipe);
    # versions from before recipes have none
    recipe: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


def new_version_name() -> str:
    """Sortable by build time (microseconds), so pruning keeps the newest."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def is_plain_path(name: str, parts: int = 1) -> bool:
    """A relative path of at most `parts` plain names: no absolute path, no `..`,
    nothing that could lead out of the index directory."""
    pieces = name.split("/")
    return 0 < len(pieces) <= parts and all(PLAIN_NAME.match(p) for p in pieces)


def read_pointer(index_dir: Path) -> str | None:
    """The current version's name, refused unless it is a plain name inside the index."""
    try:
        name = (Path(index_dir) / POINTER).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    if name is not None and not is_plain_path(name):
        raise IndexCorruptError(
            f"{Path(index_dir) / POINTER} names {name[:80]!r}, which is not a version; "
            f"{REBUILD_HINT}"
        )
    return name


def has_index(index_dir: Path) -> bool:
    return read_pointer(Path(index_dir)) is not None


def switch_current(index_dir: Path, name: str) -> None:
    """Point CURRENT at version `name` with one atomic rename."""
    replace_text(index_dir / POINTER, name + "\n")


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def read_jsonl(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"cannot read {path} ({exc}); {REBUILD_HINT}") from None


def read_manifest(path: Path) -> Manifest:
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}") from None
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(f"cannot read {path} ({exc}); {REBUILD_HINT}") from None
    export = manifest.onnx.get("file") if isinstance(manifest.onnx, dict) else f"{MODELS}/none"
    names = [*manifest.files, export]
    if not all(isinstance(n, str) and is_plain_path(n, parts=2) for n in names) or not str(
        export
    ).startswith(f"{MODELS}/"):
        raise IndexCorruptError(f"{path} names a file outside its index directory; {REBUILD_HINT}")
    return manifest


def versions(index_dir: Path) -> list[str]:
    """Names of the complete versions on disk, oldest first."""
    folder = Path(index_dir) / VERSIONS
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def current_version_dir(index_dir: Path) -> Path | None:
    name = read_pointer(Path(index_dir))
    return Path(index_dir) / VERSIONS / name if name else None


def stored_model_dir(index_dir: Path) -> Path | None:
    """Where the current version of `index_dir` keeps the model's tokenizer and
    sizes beside its export (models/<model>/); None without an export."""
    manifest = read_current_manifest(Path(index_dir))
    if manifest is None or not manifest.onnx:
        return None
    return (Path(index_dir) / manifest.onnx["file"]).with_suffix("")


def read_current_manifest(index_dir: Path) -> Manifest | None:
    """The current version's manifest; None when there is none or it is unreadable."""
    version_dir = current_version_dir(index_dir)
    if version_dir is None:
        return None
    try:
        return read_manifest(version_dir / MANIFEST)
    except IndexCorruptError:
        return None


def read_current(index_dir: Path) -> tuple[Manifest, list[Article]] | None:
    """The current manifest and articles, without loading vectors (cheap)."""
    version_dir = current_version_dir(index_dir)
    if version_dir is None:
        return None
    manifest = read_manifest(version_dir / MANIFEST)
    articles = [Article.from_dict(row) for row in read_jsonl(version_dir / ARTICLES)]
    return manifest, articles
