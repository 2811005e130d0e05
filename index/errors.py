"""Errors of the index layer. Each carries a message an operator can act on."""

from __future__ import annotations


class IndexLayerError(Exception):
    """Base for the errors below; the command line shows their message, not a traceback."""


class SourceError(IndexLayerError):
    """An article source (file, directory, URL) could not be loaded."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NoArticlesError(IndexLayerError):
    """A build was asked for, but no source gave an article."""


class IndexMissingError(IndexLayerError):
    """There is no index at the given directory."""


class IndexCorruptError(IndexLayerError):
    """An index exists but a file is unreadable, truncated or inconsistent."""


class IndexIncompatibleError(IndexLayerError):
    """The index was built with another model, dimension or format version."""


class IndexBusyError(IndexLayerError):
    """Another build holds the index lock."""
