"""Which mistake a database error stands for, so a command can name the setting to fix."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError


class DatabaseMistake(StrEnum):
    BAD_URL = "bad_url"
    CANNOT_OPEN = "cannot_open"


def classify(error: BaseException) -> tuple[DatabaseMistake, str] | None:
    """The mistake and the driver's reason on one line (a URL's password is not part of it)."""
    if isinstance(error, ArgumentError | NoSuchModuleError):
        return DatabaseMistake.BAD_URL, type(error).__name__
    if isinstance(error, OperationalError):
        return DatabaseMistake.CANNOT_OPEN, " ".join(str(error.orig).split())[:200]
    return None
