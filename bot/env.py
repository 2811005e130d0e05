"""Settings that a service names its own way: `DISCORD_TOKEN` as Discord's docs
call it, `ARTICLEBOT_DISCORD_TOKEN` like every other setting, `discord_token` in
the settings file."""

from __future__ import annotations

from pydantic import AliasChoices


def platform_env(name: str) -> AliasChoices:
    return AliasChoices(name, f"ARTICLEBOT_{name}", name.lower())
