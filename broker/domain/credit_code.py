"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

A code has 18 characters from the alphabet :data:`ALPHABET` (digits and upper-case letters
without I, O, S, V, Z):

====== ============================================================================
1      registration authority (登记管理部门代码), e.g. ``9`` market regulation, ``5`` civil affairs
2      organisation type within that authority (机构类别代码), e.g. ``91`` enterprise
3-8    GB/T 2260 division code of the registration authority (6 digits)
9-17   organisation code (主体标识码, GB 11714): 8 characters and their own check character
18     check character over the first 17 characters, modulo 31
====== ============================================================================

Check character (position 18): with ``v(c)`` the index of ``c`` in :data:`ALPHABET` and weights
``w_i = 3**i mod 31`` for ``i = 0..16``, the check value is ``(31 - sum(v * w) mod 31) mod 31``.

Organisation-code check character (position 17, GB 11714): with ``v`` the digit value or, for a
letter, its position in the Latin alphabet plus 9 (A=10 ... Z=35) and weights
:data:`ORG_CODE_WEIGHTS`, the check value is ``11 - sum(v * w) mod 11``; 10 is written ``X``
and 11 is written ``0``.

The embedded division code is checked only for shape: a code keeps its credit code for life,
even after its registration authority's division code has been retired, so membership in the
current GB/T 2260 list is not a validity rule here.
"""

from __future__ import annotations

import re
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a unified social credit code may contain, in check-value order."""

LENGTH: Final = 18
"""Number of characters of a unified social credit code."""

WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(LENGTH - 1))
"""Weights of positions 1-17 for the final check character: 3**i mod 31."""

ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 weights of the 8 body characters of the organisation code (positions 9-16)."""

_VALUE: Final = {c: i for i, c in enumerate(ALPHABET)}
_DIGITS: Final = frozenset("0123456789")


class CreditCodeError(ValueError):
    """Not a valid unified social credit code; the message says why in plain words, naming
    positions but never repeating the characters (a wrong field may hold anything)."""


def _final_check(prefix17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(prefix17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


_ORG_VALUE: Final = {c: int(c) if c in _DIGITS else ord(c) - ord("A") + 10 for c in ALPHABET}
"""GB 11714's value of each character: a digit its own, a letter its place in the Latin alphabet + 9."""


def _org_check(body8: str) -> str:
    r = 11 - sum(_ORG_VALUE[c] * w for c, w in zip(body8, ORG_CODE_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


_WELL_FORMED: Final = re.compile(
    r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]*", re.ASCII | re.IGNORECASE
)
"""What _normalise accepts, in one match (in either case: ASCII letters only, none of I, O, S, V,
Z); the character-by-character checks then only run to say what is wrong."""


def _normalise(value: str, length: int, what: str) -> str:
    """Upper-case ``value`` after checking its length and that every character is allowed."""
    if len(value) != length:
        raise CreditCodeError(f"{what} must be {length} characters, got {len(value)}")
    if _WELL_FORMED.fullmatch(value):
        return value.upper()
    for i, c in enumerate(value, start=1):
        if not c.isascii() or c.upper() not in _VALUE:
            raise CreditCodeError(f"the character at position {i} is not allowed")
    upper = value.upper()
    for i in range(2, 8):
        if upper[i] not in _DIGITS:
            raise CreditCodeError(
                f"the character at position {i + 1} is not allowed: "
                "positions 3-8 hold a 6-digit division code"
            )
    return upper


def validate_credit_code(value: str, *, check_org_code: bool = True) -> str:
    """Return the code in upper case if it is a valid unified social credit code, else raise.

    Checks, in this order: type, length, alphabet, digits of the division code, the final check
    character and (unless ``check_org_code`` is false) the organisation-code check character.
    Surrounding spaces are not removed: they make the length wrong.
    """
    if not isinstance(value, str):
        raise CreditCodeError(f"a credit code must be a string, got {type(value).__name__}")
    upper = _normalise(value, LENGTH, "a credit code")
    expected = _final_check(upper[:17])
    if upper[17] != expected:
        raise CreditCodeError(f"the check character (position 18) is wrong, expected {expected!r}")
    if check_org_code:
        org_expected = _org_check(upper[8:16])
        if upper[16] != org_expected:
            raise CreditCodeError(
                f"the organisation code check character (position 17) is wrong, expected {org_expected!r}"
            )
    return upper


def make_credit_code(prefix17: str) -> str:
    """Append the final check character to 17 characters (upper-cased) and return the code.

    The prefix is checked like a code (alphabet, division digits) but its organisation-code check
    character is taken as given; use :func:`make_org_code` to build a correct one.
    """
    if not isinstance(prefix17, str):
        raise CreditCodeError(f"a credit code prefix must be a string, got {type(prefix17).__name__}")
    upper = _normalise(prefix17, LENGTH - 1, "a credit code prefix")
    return upper + _final_check(upper)


def make_org_code(body8: str) -> str:
    """Append the GB 11714 check character to 8 organisation-code characters (upper-cased)."""
    upper = body8.upper() if isinstance(body8, str) and body8.isascii() else ""
    if len(upper) != 8 or any(c not in _VALUE for c in upper):
        raise CreditCodeError(f"an organisation code body is 8 characters of {ALPHABET}")
    return upper + _org_check(upper)


def is_valid_credit_code(value: str, *, check_org_code: bool = True) -> bool:
    """True if :func:`validate_credit_code` accepts ``value``."""
    try:
        validate_credit_code(value, check_org_code=check_org_code)
    except CreditCodeError:
        return False
    return True


__all__ = [
    "ALPHABET",
    "LENGTH",
    "ORG_CODE_WEIGHTS",
    "WEIGHTS",
    "CreditCodeError",
    "is_valid_credit_code",
    "make_credit_code",
    "make_org_code",
    "validate_credit_code",
]
