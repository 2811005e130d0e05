"""The Slack app's settings: a section of `bot.settings.Settings` (the names are
the settings file's; config/articlebot.toml says what each means)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.env import platform_env


class SlackConfig(BaseModel):
    """Tokens, the signing secret, the endpoint, the channels the app answers in, its
    admins, ephemeral answers and Web API retries (bot/chat/slack/)."""

    model_config = ConfigDict(populate_by_name=True)

    # Tokens and the signing secret are secrets: never logged.
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
    # Channels where every question is answered without a mention, in its thread (needs
    # the message.channels / message.groups events, as do follow-ups in threads).
    slack_answer_channels: list[str] = Field(default_factory=list)
    slack_ephemeral_answers: bool = False
    slack_api_retries: int = Field(3, ge=0)
