"""Start-up failures of the chat bots, kept apart from bot/launcher.py so the
command line can name them without importing the servers' libraries."""


class LaunchError(Exception):
    """The bot cannot start; the message says why and what to change."""


class MissingSecretError(LaunchError):
    """A token or secret the platform needs is not set."""
