"""The errors the engine raises on purpose. Each message is meant for the user (Chinese
first, English in brackets); anything else escaping the engine is a bug."""

from __future__ import annotations


class RagError(Exception):
    """Base of every deliberate error; ``str(exc)`` is safe to show to the user."""


class QuestionError(RagError, ValueError):
    """A question or request the engine cannot take (empty, too long, unknown mode, bad k)."""


class ConfigError(RagError, ValueError):
    """A setting that is missing or misformatted."""


class IndexNotFoundError(RagError, FileNotFoundError):
    """No index has been built in the folder yet."""


class IndexBusyError(RagError):
    """Another ingest holds the index folder's lock."""


class IndexCorruptError(RagError):
    """The index on disk is damaged or inconsistent."""


class LLMUnavailableError(RagError):
    """The LLM endpoint cannot be reached, timed out, or answered with an error.

    The service answers extractively instead; ``reason`` names the cause for the notice.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message
