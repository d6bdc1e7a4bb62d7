"""Argument types and loaders the commands share."""

from __future__ import annotations

import argparse
from typing import Any

from broker.settings import Settings


def participants(args: argparse.Namespace, settings: Settings) -> Any:
    """The participants file named by --participants, else RB_PARTICIPANTS."""
    from broker.participants import Participants

    return Participants.load(args.participants or settings.participants_file, settings.user_prefix)


def positive_int(text: str) -> int:
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    return _whole(text, 0)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}")
    return value


def rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of messages a second") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be 0 (no limit) or more")
    return value
