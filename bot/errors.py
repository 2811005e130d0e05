"""Errors of the bot layer, on the two bases of index/errors.py (input: exit 2,
environment: exit 1). Kept apart from the modules that raise them, so the command
line can name them without importing the servers' libraries."""

from __future__ import annotations

from index.errors import InputError, OperatorError


class QuestionError(InputError):
    """The question cannot be asked as given (e.g. it is empty)."""


class UsageError(InputError):
    """A command was given arguments it cannot use."""


class SourcesFailedError(InputError):
    """Some sources were not indexed (the rest were)."""


class SettingsFileError(InputError):
    """A settings file that cannot be used; the message says why and the fix."""


class InsecureSettingsError(SettingsFileError):
    """A settings file others can change, or one that holds secrets others can read."""


class UnknownCollectionError(InputError):
    """A collection name the settings do not define."""


class MissingSecretError(InputError):
    """A token or secret the platform needs is not set."""


class LaunchError(OperatorError):
    """The bot cannot start; the message says why and what to change."""


class BusyError(OperatorError):
    """Too many questions are waiting for an answer thread; the asker should retry."""
