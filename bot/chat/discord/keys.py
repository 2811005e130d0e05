"""Where a Discord conversation continues, and which channel a message counts as in:
the keys the shared thread store files follow-ups under, and a thread's home."""

from __future__ import annotations

import discord


def thread_key(channel_id: int) -> str:
    return f"discord:thread:{channel_id}"


def message_key(message_id: int) -> str:
    return f"discord:message:{message_id}"


def conversation_keys(message: discord.Message) -> list[str]:
    """Where a message may continue a conversation: the thread it is in, the message
    it replies to."""
    keys = [thread_key(message.channel.id)]
    if message.reference and message.reference.message_id:
        keys.append(message_key(message.reference.message_id))
    return keys


def home_channel_id(channel: object, fallback: int | None = None) -> int | None:
    """The channel a message or command counts as in, for the allowlist, the collection
    and the feedback record: a thread's parent; `fallback` when the channel is unknown."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return getattr(channel, "id", fallback)


def asked_in(interaction: discord.Interaction) -> int | None:
    """The channel a command counts as used in (home_channel_id)."""
    return home_channel_id(interaction.channel, interaction.channel_id)
