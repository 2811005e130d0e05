"""Errors with a message a person can act on, in two kinds that decide the exit
status: the user's input is wrong (exit 2), or the operator's environment is
(exit 1). Every error of ArticleBot derives from one of the two; the command line
prints the message (with the traceback under --debug) and exits with the code
the error carries."""

from __future__ import annotations

import logging


class ArticleBotError(Exception):
    """Base of every error below; `exit_code` is what the command line exits with."""

    exit_code = 1


class InputError(ArticleBotError):
    """The user's input is wrong: a question, a source, an argument, a setting."""

    exit_code = 2


class OperatorError(ArticleBotError):
    """The environment is wrong: a damaged index, a missing model, a rejected token."""

    exit_code = 1


class SourceError(InputError):
    """An article source (file, directory, URL) could not be loaded."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class RetryLaterError(SourceError):
    """The source asked to be left alone for a while (HTTP 429 or 503); `seconds`
    is its Retry-After, or None when it gave none."""

    def __init__(self, source: str, reason: str, seconds: float | None) -> None:
        super().__init__(source, reason)
        self.seconds = seconds


class NoArticlesError(InputError):
    """A build was asked for, but no source gave an article."""


class IndexMissingError(InputError):
    """There is no index at the given directory."""


class IndexIncompatibleError(InputError):
    """The index was built with another model, dimension or format version."""


class UnknownArticleError(InputError):
    """An article id that the index does not hold."""


class IndexCorruptError(OperatorError):
    """An index exists but a file is unreadable, truncated or inconsistent."""


class VectorStoreError(OperatorError):
    """The configured vector store (Milvus) cannot be opened or reached."""


class IndexBusyError(OperatorError):
    """Another build holds the index lock."""


class NewerBuildError(OperatorError):
    """The index was built by a newer ArticleBot, which this one must not rebuild over."""


class NoOlderVersionError(OperatorError):
    """A rollback was asked for, but no older version is kept."""


class BuildFailedError(OperatorError):
    """A build in a child process stopped unexpectedly."""


class ModelMissingError(OperatorError):
    """The model files are not where they should be."""


def unexpected_failure(source: str, exc: Exception) -> SourceError:
    """`exc` as the failure of one source (already redacted), so that an error no
    handler foresaw stops that source alone, never the others or the whole build."""
    if isinstance(exc, SourceError):
        return exc
    logging.getLogger("index").warning(
        "%s failed unexpectedly (%s)", source, type(exc).__name__, exc_info=exc
    )
    return SourceError(source, f"failed unexpectedly ({type(exc).__name__}); see the log")
