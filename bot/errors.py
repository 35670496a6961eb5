"""The exception tree, translated to users in exactly two places (`cli.main`, `PaperTree.on_error`), and the
process exit codes.

PaperbotError
├── ConfigError        bad file or value; carries one line per problem (CLI exit 2)
├── SourceError        an upstream (Hugging Face, arXiv) failed after its retries (CLI exit 1)
├── CatalogueError     the SQLite catalogue could not be opened or written
├── PaperNotFound      a lookup found nothing, locally or upstream
└── UserInputError     a user's option is malformed; the message is safe to show as is
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CatalogueError",
    "ConfigError",
    "ExitCode",
    "PaperNotFound",
    "PaperbotError",
    "SourceError",
    "UserInputError",
]


class ExitCode(IntEnum):
    """The process exit status of every `paperbot` command, `run` included (the one definition)."""

    OK = 0
    FAILURE = 1  # a runtime failure: an upstream, Discord or the database failed, the token was rejected
    USAGE = 2  # bad usage or bad configuration (a missing token included): fix the command or the config
    INTERRUPTED = 130  # Ctrl-C, by the shell convention 128 + SIGINT


EXIT_OK = ExitCode.OK
EXIT_FAILURE = ExitCode.FAILURE
EXIT_USAGE = ExitCode.USAGE
EXIT_INTERRUPTED = ExitCode.INTERRUPTED


class PaperbotError(Exception):
    """Base of every error paperbot raises on purpose."""


class ConfigError(PaperbotError):
    """The configuration is invalid; `problems` holds one human line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class SourceError(PaperbotError):
    """An upstream request failed for good (after retries) or answered something unusable."""

    def __init__(
        self,
        source: str,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        attempt: int | None = None,
    ) -> None:
        self.source = source
        self.url = url
        self.status = status
        self.attempt = attempt
        self.message = message
        detail = [f"{source}: {message}"]
        if status is not None:
            detail.append(f"HTTP {status}")
        if attempt is not None:
            detail.append(f"after {attempt} attempt(s)")
        if url is not None:
            detail.append(url)
        super().__init__(" — ".join(detail))


class CatalogueError(PaperbotError):
    """The catalogue database could not be opened, migrated or written."""


class PaperNotFound(PaperbotError):
    """No paper matches the lookup, in the catalogue or upstream."""

    def __init__(self, query: str) -> None:
        self.query = query
        super().__init__(f"no paper found for {query!r}")


class UserInputError(PaperbotError):
    """A user-supplied option is malformed; the message is short and safe to show the user."""
