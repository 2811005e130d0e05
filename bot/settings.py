"""The one settings object: defaults, the settings files, then environment variables.

Read once at the entry point and passed down; nothing else reads the
environment. Priority, highest first: explicit values (command-line options),
`ARTICLEBOT_*` environment variables, the operator's settings file
(`--config` / `ARTICLEBOT_CONFIG`), the bundled `config/articlebot.toml`,
the defaults below.
"""

from __future__ import annotations

import os
import stat
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.errors import InsecureSettingsError, SettingsFileError

SETTINGS_FILE = "articlebot.toml"


def bundled_dir() -> Path:
    """The `config/` folder: inside the installed wheel (`bot/_config`), else the checkout's."""
    installed = Path(__file__).parent / "_config"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "config"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "articlebot"


def platform_env(name: str) -> AliasChoices:
    """A platform's customary variable (e.g. DISCORD_TOKEN), its ARTICLEBOT_ twin, or the
    settings-file key."""
    return AliasChoices(name, f"ARTICLEBOT_{name}", name.lower())


class Settings(BaseSettings):
    """Everything an operator can set. See config/articlebot.toml for each field's meaning."""

    model_config = SettingsConfigDict(
        env_prefix="ARTICLEBOT_", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    index_dir: Path | None = None
    sources: list[str] = Field(default_factory=list)

    model_path: Path | None = None
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    embed_batch_size: int = Field(32, ge=1)
    # "auto": embed with the ONNX export stored with the index (no torch at run
    # time), exported at build; "torch": always sentence-transformers.
    embedding_backend: Literal["auto", "torch"] = "auto"
    onnx_threads: int = Field(0, ge=0)

    chunk_target_tokens: int = Field(200, ge=16, le=254)
    chunk_overlap_tokens: int = Field(48, ge=0)
    keep_versions: int = Field(3, ge=1)
    # Vector index: exact (flat) up to faiss_flat_max vectors, HNSW beyond (its recall@5
    # against exact search is measured at build time and written to the manifest).
    faiss_flat_max: int = Field(200_000, ge=1)
    hnsw_m: int = Field(32, ge=4, le=128)
    hnsw_ef_construction: int = Field(200, ge=8)
    hnsw_ef_search: int = Field(1024, ge=8)

    top_k: int = Field(5, ge=1, le=50)
    # How passages are found: "hybrid" (BM25 + embeddings), "dense" or "bm25"; hybrid
    # fusion "weighted" (dense_weight x cosine + the rest x BM25 scaled to [0, 1]) or "rrf".
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    retrieval_fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(0.7, ge=0.0, le=1.0)
    retrieval_candidates: int = Field(30, ge=1, le=1000)
    # Rerank the best `rerank_depth` passages by fused score + rerank_weight x the share of
    # the question's words in their best sentence (0 turns it off).
    rerank_weight: float = Field(1.0, ge=0.0, le=5.0)
    rerank_depth: int = Field(20, ge=1, le=200)
    min_score: float = Field(0.50, ge=-1.0, le=3.0)
    lexical_weight: float = Field(0.75, ge=0.0, le=5.0)
    recency_weight: float = Field(0.15, ge=0.0, le=5.0)
    answer_max_chars: int = Field(400, ge=80)
    # "extractive" (default, offline) or "openai": any OpenAI-compatible chat endpoint
    answer_backend: Literal["extractive", "openai"] = "extractive"
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "llama3.1"
    openai_api_key: SecretStr | None = Field(None, validation_alias=platform_env("OPENAI_API_KEY"))
    openai_timeout_seconds: float = Field(20.0, gt=0)
    question_max_chars: int = Field(1000, ge=10)

    # Fetching URLs and feeds: see index/fetch.py and the README's Operations section.
    fetch_timeout_seconds: float = Field(10.0, gt=0)
    fetch_deadline_seconds: float = Field(60.0, gt=0)
    fetch_max_bytes: int = Field(5_000_000, gt=0)
    fetch_allow_private_networks: bool = False
    fetch_feed_entry_hosts: list[str] = Field(default_factory=list)
    feed_max_entries: int = Field(100, ge=1)

    # Chat platforms, shared
    rate_limit_questions: int = Field(5, ge=1)
    rate_limit_seconds: float = Field(60.0, gt=0)
    rate_limit_channel_questions: int = Field(30, ge=1)
    # After a /reindex, the next one waits this long (0: no wait).
    reindex_cooldown_seconds: float = Field(300.0, ge=0)

    # Operations: /healthz and Prometheus /metrics on ops_host:ops_port (off when unset),
    # and log lines as JSON objects (with a request id per question) or plain text.
    ops_port: int | None = Field(None, ge=1, le=65535)
    ops_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"
    answer_threads: int = Field(4, ge=1)
    # Questions waiting for or in an answer thread, at most; past that askers are told the
    # bot is busy, instead of a queue that grows without end.
    answer_queue_max: int = Field(64, ge=1)

    # Discord. The token is a secret: never logged, never shown in errors.
    discord_token: SecretStr | None = Field(
        None,
        validation_alias=platform_env("DISCORD_TOKEN"),
    )
    discord_application_id: int | None = Field(
        None, validation_alias=platform_env("DISCORD_APPLICATION_ID")
    )
    discord_api_base_url: str | None = Field(
        None, validation_alias=platform_env("DISCORD_API_BASE_URL")
    )
    discord_gateway_url: str | None = Field(
        None, validation_alias=platform_env("DISCORD_GATEWAY_URL")
    )
    discord_guild_id: int | None = Field(None, validation_alias=platform_env("DISCORD_GUILD_ID"))
    # Servers the bot may be in (with discord_guild_id): it leaves any other server it is
    # added to and refuses commands there. Empty, with no discord_guild_id: every server.
    discord_guild_allowlist: list[int] = Field(default_factory=list)
    discord_channel_allowlist: list[int] = Field(default_factory=list)
    discord_admin_role_ids: list[int] = Field(default_factory=list)
    # Privileged; enable it in the Developer Portal first. Lets the bot read replies
    # to its answers that have the @-ping turned off, and answer them as questions.
    discord_message_content: bool = False

    # Slack. Tokens and the signing secret are secrets: never logged.
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=platform_env("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=platform_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=platform_env("SLACK_APP_TOKEN")
    )
    slack_api_base_url: str | None = Field(
        None, validation_alias=platform_env("SLACK_API_BASE_URL")
    )
    slack_channel_allowlist: list[str] = Field(default_factory=list)
    slack_admin_user_ids: list[str] = Field(default_factory=list)
    slack_ephemeral_answers: bool = False
    slack_api_retries: int = Field(3, ge=0)

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.sqlite3"

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def resolved_sources(self) -> list[str]:
        """Configured sources, relative paths read against the bundled config folder;
        with none configured, the bundled articles."""
        if not self.sources:
            return [str(bundled_dir() / "articles")]
        return [
            s if "://" in s or Path(s).is_absolute() else str(bundled_dir() / s)
            for s in self.sources
        ]


def secret_keys() -> frozenset[str]:
    """Every spelling under which a secret setting is read (field name, platform
    variable, ARTICLEBOT_ twin), lower-cased: derived from the fields, so a new
    secret field is covered without a list to keep in step."""
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        if SecretStr not in typing.get_args(info.annotation) and info.annotation is not SecretStr:
            continue
        names |= {name, f"ARTICLEBOT_{name}"}
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
    return frozenset(n.lower() for n in names)


def _keys(table: dict[str, Any]) -> Iterator[str]:
    for key, value in table.items():
        yield key
        if isinstance(value, dict):
            yield from _keys(value)


def check_settings_file(path: Path) -> None:
    """Refuse a settings file that group or others can write (whoever can write it can
    point the API base URLs at themselves and receive the tokens), or one that holds a
    secret, under any spelling, and that group or others can read."""
    mode = path.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureSettingsError(
            f"settings file {path} can be changed by other users; run `chmod go-w {path}`"
        )
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"settings file {path} is not valid TOML ({exc})") from None
    secrets = secret_keys()
    if any(key.lower() in secrets for key in _keys(table)) and mode & (stat.S_IRGRP | stat.S_IROTH):
        raise InsecureSettingsError(
            f"settings file {path} holds secrets and other users can read it; "
            f"run `chmod 600 {path}`"
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from every source; `overrides` are explicit values (e.g. CLI options)."""
    files = [bundled_dir() / SETTINGS_FILE]
    if config_file is not None:
        if not Path(config_file).is_file():
            raise SettingsFileError(f"settings file {config_file} does not exist")
        check_settings_file(Path(config_file))
        files.append(Path(config_file))

    class FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            toml = [TomlConfigSettingsSource(settings_cls, toml_file=f) for f in reversed(files)]
            return (init_settings, env_settings, *toml)

    values = {k: v for k, v in overrides.items() if v is not None}
    return FileSettings(**values)
