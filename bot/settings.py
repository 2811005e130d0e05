"""The one settings object: defaults, the settings files, then environment variables.

Read once at the entry point and passed down; nothing else reads the
environment. Priority, highest first: explicit values (command-line options),
`ARTICLEBOT_*` environment variables, the operator's settings file
(`--config` / `ARTICLEBOT_CONFIG`), the bundled `config/articlebot.toml`,
the defaults below.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.answer.config import AnswerConfig, GenerationConfig
from bot.chat.config import ChatConfig
from bot.chat.discord.config import DiscordConfig
from bot.chat.slack.config import SlackConfig
from bot.errors import InsecureSettingsError, SettingsFileError, UnknownCollectionError
from index.config import EmbeddingConfig, FetchConfig, IndexConfig, RetrievalConfig
from index.sources.redact import redact_url

SETTINGS_FILE = "articlebot.toml"
DEFAULT_COLLECTION = "default"
Section = typing.TypeVar("Section", bound=BaseModel)
COLLECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def bundled_dir() -> Path:
    """The `config/` folder: inside the installed wheel (`bot/_config`), else the checkout's."""
    installed = Path(__file__).parent / "_config"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "config"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "articlebot"


class CollectionSettings(BaseModel):
    """One `[collections.NAME]` section: an article set of its own, with its own index,
    answering in its own channels (Slack channel IDs or Discord channel IDs)."""

    model_config = {"extra": "forbid"}

    sources: list[str] = Field(min_length=1)
    index_dir: Path | None = None  # default: data_dir/collections/NAME/index
    channels: list[str] = Field(default_factory=list)
    announce_channels: list[str] = Field(default_factory=list)  # where its new articles go
    min_score: float | None = Field(None, ge=-1.0, le=3.0)

    @field_validator("channels", "announce_channels", mode="before")
    @classmethod
    def channel_ids_as_text(cls, channels: list[object]) -> list[str]:
        """Discord IDs may be written as numbers; both platforms' IDs compare as text."""
        return [str(c) for c in channels]


class Settings(
    FetchConfig,
    EmbeddingConfig,
    IndexConfig,
    RetrievalConfig,
    AnswerConfig,
    GenerationConfig,
    ChatConfig,
    DiscordConfig,
    SlackConfig,
    BaseSettings,
):
    """Everything an operator can set. See config/articlebot.toml for each field's meaning.

    Made of each layer's own section (index/config.py, bot/answer/config.py,
    bot/chat/config.py, and each platform's config.py), where its settings are
    declared once; `section` hands a
    layer its part. What only the entry points and platforms use is declared here.
    """

    # An empty variable counts as unset, as in an env file with `DISCORD_GUILD_ID=`.
    # Errors never repeat what was given: a value may hold a token or a password.
    model_config = SettingsConfigDict(
        env_prefix="ARTICLEBOT_",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    index_dir: Path | None = None
    sources: list[str] = Field(default_factory=list)
    # The running bot refreshes its sources this often (give or take 10 %), fetching
    # only what changed; off when unset. Only one process refreshes an index at a time.
    sync_interval_minutes: float | None = Field(None, gt=0)

    # Operations: /healthz and Prometheus /metrics on ops_host:ops_port (off when unset),
    # and log lines as JSON objects (with a request id per question) or plain text.
    ops_port: int | None = Field(None, ge=1, le=65535)
    ops_host: str = "127.0.0.1"
    log_format: Literal["text", "json"] = "text"

    # Collections: other article sets, each answering in its own channels. A channel that
    # is in none is answered from the top-level sources (the "default" collection).
    collections: dict[str, CollectionSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def collections_apart(self) -> Settings:
        """A channel answers from one collection, and each collection has an index
        directory of its own; names are plain and not "default"."""
        seen: dict[str, str] = {}
        dirs = {self.resolved_index_dir.resolve(): DEFAULT_COLLECTION}
        for name, collection in self.collections.items():
            if name == DEFAULT_COLLECTION or not COLLECTION_NAME.fullmatch(name):
                raise ValueError(
                    f"collection name {name!r}: use a-z, 0-9, - and _ (and not 'default')"
                )
            for channel in collection.channels:
                if channel in seen:
                    raise ValueError(
                        f"channel {channel} is in collections {seen[channel]} and {name}"
                    )
                seen[channel] = name
            index_dir = self.collection_index_dir(name).resolve()
            if index_dir in dirs:
                raise ValueError(f"collections {dirs[index_dir]} and {name} share {index_dir}")
            dirs[index_dir] = name
        return self

    def collection_index_dir(self, name: str) -> Path:
        """Where a collection's index lives: its own index_dir, else under data_dir."""
        configured = self.collections[name].index_dir
        return configured or self.data_dir / "collections" / name / "index"

    def collection_of(self, channel: str | int | None) -> str:
        """The collection a channel answers from: the one that lists it, else the default."""
        wanted = str(channel)
        for name, collection in self.collections.items():
            if wanted in collection.channels:
                return name
        return DEFAULT_COLLECTION

    def for_collection(self, name: str | None) -> Settings:
        """These settings as one collection sees them: its sources, index directory,
        announce channels and min_score in place of the top-level ones (the default
        collection: unchanged)."""
        if name in (None, DEFAULT_COLLECTION):
            return self
        collection = self.collections.get(name)
        if collection is None:
            known = ", ".join([DEFAULT_COLLECTION, *self.collections])
            raise UnknownCollectionError(f"no collection named {name!r} (there are: {known})")
        update: dict[str, Any] = {
            "sources": collection.sources,
            "index_dir": self.collection_index_dir(name),
            "announce_channels": collection.announce_channels,
        }
        if collection.min_score is not None:
            update["min_score"] = collection.min_score
        return self.model_copy(update=update)

    def section(self, kind: type[Section]) -> Section:
        """The part of the settings one layer uses (e.g. its RetrievalConfig)."""
        return kind.model_validate({name: getattr(self, name) for name in kind.model_fields})

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


def _texts(value: object) -> Iterator[str]:
    """Every string in a TOML value, however deep in tables and arrays."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def holds_secret(table: dict[str, Any]) -> bool:
    """A secret setting under any spelling, or a URL anywhere (a source, milvus_uri)
    with a user name, password or secret-looking parameter in it."""
    secrets = secret_keys()
    return any(key.lower() in secrets for key in _keys(table)) or any(
        redact_url(text) != text for text in _texts(table)
    )


def check_settings_file(path: Path) -> None:
    """Refuse a settings file that group or others can write (whoever can write it can
    point the API base URLs at themselves and receive the tokens), or one that holds a
    secret (a secret setting, or credentials in a URL) that group or others can read."""
    mode = path.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InsecureSettingsError(
            f"settings file {path} can be changed by other users; run `chmod go-w {path}`"
        )
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"settings file {path} is not valid TOML ({exc})") from None
    if holds_secret(table) and mode & (stat.S_IRGRP | stat.S_IROTH):
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
