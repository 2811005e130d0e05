"""The Discord bot's settings: a section of `bot.settings.Settings` (the names are
the settings file's; config/articlebot.toml says what each means)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from bot.env import platform_env


class DiscordConfig(BaseModel):
    """Token, endpoints, the servers and channels the bot answers in, its admins,
    the Message Content intent and sharding (bot/chat/discord/)."""

    model_config = ConfigDict(populate_by_name=True)

    # The token is a secret: never logged, never shown in errors.
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
    # Privileged; enable it in the Developer Portal first. Lets the bot read messages that
    # do not mention it: follow-ups in threads and replies, and answer channels.
    discord_message_content: bool = False
    # Channels where every question is answered without a mention, in a thread the bot
    # opens for it (needs discord_message_content, as do follow-ups in threads).
    discord_answer_channels: list[int] = Field(default_factory=list)
    # Sharding, for a bot in many servers (docs/running-more-than-one.md): this process
    # runs the shards discord_shard_ids (all when empty) of discord_shard_count. Discord
    # sends each server's events to one shard, so each process answers only its servers.
    discord_shard_count: int | None = Field(None, ge=1)
    discord_shard_ids: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def shards_in_range(self) -> DiscordConfig:
        """Shard ids need a shard count, and are below it."""
        count = self.discord_shard_count
        if self.discord_shard_ids and count is None:
            raise ValueError("discord_shard_ids needs discord_shard_count")
        if count is not None and any(not 0 <= i < count for i in self.discord_shard_ids):
            raise ValueError(f"discord_shard_ids: each must be from 0 to {count - 1}")
        return self
