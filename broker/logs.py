"""Logging configuration in one place: structlog, one JSON object a line, personal data scrubbed.

Routing code logs envelope metadata only, and validation errors never repeat the sender's values
(broker/domain/validation.py): that is the fix, at the source. As a second line of defence,
`scrub_personal_data` masks what looks like an ID-card number (18 or 15 digits, also glued to
letters), a bank-card number (16-19 digits passing the Luhn check), a mobile or landline number or
an e-mail address, in case one ever slips into, say, an exception message.

What a pattern cannot recognise is not masked: Chinese names and street addresses have no shape a
regular expression can tell from other text, so they are kept out at the source, never cleaned up
here. A UUID is always kept whole, so that a message can be found by its id in the logs; the price
is that digits disguised as a UUID are not masked either.

A line is rendered with orjson, then checked whole (`render_scrubbed`): the usual line, with no run
of ten digits and no '@' outside its UUIDs, is written as it is, and only a line that could hold
personal data has its values scrubbed one by one and is rendered again.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata
from collections.abc import MutableMapping
from functools import cache
from typing import Any, TextIO

import orjson
import structlog

REDACTED = "[redacted]"

_UUID = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z])")
"""A UUID standing alone (8-4-4-4-12 hex digits): never masked."""

_DATE = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_PERSONAL = [
    # ID-card numbers (GB 11643): 18 digits (last may be X) and the older 15; digits on neither
    # side, letters allowed ("ID330681199001011234")
    re.compile(rf"(?<!\d)[1-9]\d{{5}}(?:18|19|20)\d{{2}}{_DATE}\d{{3}}[\dXx](?!\d)"),
    re.compile(rf"(?<!\d)[1-9]\d{{5}}\d{{2}}{_DATE}\d{{3}}(?!\d)"),
    # landlines: area code (0xx, 0xxx, (0xxx) or +86 without the 0), then a 7 or 8 digit number
    re.compile(r"(?<![\d+])(?:\(0\d{2,3}\)|(?:\+?86[- ]?|0)\d{2,3})[- ]?[2-9]\d{2,3}[- ]?\d{4}(?!\d)"),
    # mainland mobile numbers, also written +86 138 0013 8000
    re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)"),
    # bounded quantifiers keep the scan linear on long runs of letters (no catastrophic backtracking)
    re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}"),
]
"""Patterns masked wherever they occur, in this order."""

_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){15,18}(?!\d)")
"""Candidates for a bank-card number: 16-19 digits, maybe grouped; masked if the Luhn check passes."""


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return REDACTED if _luhn_valid(digits) else match.group()


_TEN_DIGITS = "0" * 10


@cache
def _digits_as_zeros() -> dict[int, str | None]:
    """A translation table: every decimal digit (\\d: the Unicode category Nd, as str.isdecimal
    says) to '0', the separators the patterns allow between digits (spaces, hyphens, parentheses)
    to nothing. Made on first use (a pass over the code points, about 40 ms)."""
    table: dict[int, str | None] = {cp: "0" for cp in range(sys.maxunicode + 1) if chr(cp).isdecimal()}
    table.update(dict.fromkeys(map(ord, " -()")))
    return table


def _as_patterns_read(text: str) -> str:
    """Full-width digits and signs (１３９…, ＋８６), as Chinese input methods type them, as the
    ASCII ones the patterns name (NFKC); an ASCII text as it is."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _could_match(text: str) -> bool:
    """Every pattern above but the e-mail address matches digits that only spaces, hyphens and
    parentheses separate, at least ten of them (a landline 10, a mobile 11, an ID card 15, a bank
    card 16): translated, a run of ten zeros, found by a substring search. A text with no such run
    and no '@' matches none of the patterns, whatever else it holds. A text with other than ASCII
    is read in its NFKC form first, as _mask reads it (a full-width hyphen, space or parenthesis
    is then one of the separators)."""
    return _quick_check(_as_patterns_read(text))


def _quick_check(read: str) -> bool:
    return "@" in read or _TEN_DIGITS in read.translate(_digits_as_zeros())


def _mask(text: str) -> str:
    read = _as_patterns_read(text)
    if not _quick_check(read):
        return text  # the usual log value: two scans in C instead of six regular expressions
    text = read  # a masked text is kept in the form the patterns read
    for pattern in _PERSONAL:
        text = pattern.sub(REDACTED, text)
    return _CARD.sub(_card, text)


def scrub_text(text: str) -> str:
    """Mask personal data patterns in a text, leaving every UUID in it as it was."""
    if not _could_match(text):
        return text  # then no part between its UUIDs could either: no UUID search
    parts: list[str] = []
    start = 0
    for match in _UUID.finditer(text):
        parts += [_mask(text[start : match.start()]), match.group()]
        start = match.end()
    parts.append(_mask(text[start:]))
    return "".join(parts)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def scrub_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask personal data patterns in every value."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _scrub(value)
    return event_dict


def _dumps(event_dict: MutableMapping[str, Any]) -> str:
    # repr for a value orjson cannot write, as structlog's JSONRenderer does; int keys as text, as json
    return orjson.dumps(event_dict, default=repr, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def render_scrubbed(logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> str:
    """structlog renderer: the event as one JSON line, personal data patterns masked in every value.

    Every pattern's digits, their separators and an e-mail's '@' reach the line unchanged (JSON
    escapes only quotes, backslashes and control characters, and adds no separator), so a line
    that `_could_match` rejects once its UUIDs are taken out holds no value `_scrub` would change:
    it is written as rendered. Otherwise the values are scrubbed as `scrub_personal_data` does, and
    the line rendered from them. What orjson refuses outright (an integer past 64 bits, a lone
    surrogate) is scrubbed and written by the stdlib's encoder, ASCII-escaped, so that the line can
    be printed: a log line never stops a worker."""
    try:
        line = _dumps(event_dict)
    except TypeError:
        return json.dumps(scrub_personal_data(logger, name, event_dict), default=repr)
    if not _could_match(line) or not _could_match(_UUID.sub("", line)):
        return line
    return _dumps(scrub_personal_data(logger, name, event_dict))


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    _digits_as_zeros()  # made at start-up, not on the first line a worker writes
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            render_scrubbed,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # None: look sys.stdout up on each use, so a swapped stdout (tests, daemons) is followed
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
