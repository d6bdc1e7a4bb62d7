"""Unified social credit codes (GB 32100-2015) and their embedded organisation codes (GB 11714)."""

from __future__ import annotations

import random

import pytest

from broker.domain.credit_code import (
    ALPHABET,
    WEIGHTS,
    CreditCodeError,
    is_valid_credit_code,
    make_credit_code,
    make_org_code,
    validate_credit_code,
)

PUBLISHED = [
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
    "9144030071526726XG",  # 腾讯科技（深圳）有限公司 (organisation check character X)
    "914403001922038216",  # 华为技术有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91110000710925462X",
    "911100001000044477",
    "91310000132200821H",
    "91110000100017643K",
    "91440300708461136T",
    "91110000802100433B",
    "91330000142916567N",
]
"""Codes of well-known companies as published on their business licences. Each one passes both
checks, which a wrong algorithm would make very unlikely (1 in 31 x 11 per code)."""


def _swap(code: str, position: int, char: str) -> str:
    return code[: position - 1] + char + code[position:]


def test_alphabet_and_weights() -> None:
    assert len(ALPHABET) == 31 and not set("IOSVZ") & set(ALPHABET)
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code: str) -> None:
    assert validate_credit_code(code) == code
    assert validate_credit_code(code.lower()) == code
    assert is_valid_credit_code(code)
    assert make_credit_code(code[:17]) == code
    assert make_org_code(code[8:16]) == code[8:17]


def test_the_arithmetic_by_hand() -> None:
    # 91330100716105852F: sum of value x 3**i mod 31 over the first 17 characters is 884;
    # 884 mod 31 = 16 and 31 - 16 = 15, the value of "F" (A=10 ... F=15).
    code = "91330100716105852F"
    total = sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    assert total == 884 and ALPHABET[31 - total % 31] == "F"
    # Organisation code 71610585-2: 7*3+1*7+6*9+1*10+0*5+5*8+8*4+5*2 = 174; 174 mod 11 = 9; 11 - 9 = 2.
    org = sum(int(c) * w for c, w in zip("71610585", (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    assert org == 174 and 11 - org % 11 == 2 and code[16] == "2"


@pytest.mark.parametrize("code", PUBLISHED[:3])
def test_every_single_substitution_is_caught(code: str) -> None:
    for position in range(1, 18):
        for char in ALPHABET:
            if char == code[position - 1]:
                continue
            broken = _swap(code, position, char)
            assert not is_valid_credit_code(broken), broken


def test_wrong_check_character() -> None:
    with pytest.raises(CreditCodeError, match=r"^the check character \(position 18\) is wrong, expected 'F'"):
        validate_credit_code("91330100716105852A")
    with pytest.raises(CreditCodeError, match=r"\(position 18\) is wrong, expected 'F'$"):
        validate_credit_code("91330100716105852g")


@pytest.mark.parametrize(
    ("value", "got"),
    [("9133010071610585F", 17), ("91330100716105852FF", 19), ("", 0), (" 91330100716105852F", 19)],
)
def test_wrong_length(value: str, got: int) -> None:
    with pytest.raises(CreditCodeError, match=f"must be 18 characters, got {got}$"):
        validate_credit_code(value)


@pytest.mark.parametrize("char", ["I", "O", "S", "V", "Z", "i", "o", "-", " ", "Ｆ", "é"])
def test_characters_outside_the_alphabet(char: str) -> None:
    code = _swap("91330100716105852F", 10, char)
    with pytest.raises(CreditCodeError, match=r"^the character at position 10 is not allowed$"):
        validate_credit_code(code)


def test_the_example_message() -> None:
    with pytest.raises(CreditCodeError, match=r"^the character at position 5 is not allowed"):
        validate_credit_code("9133I100716105852F")


def test_division_code_must_be_digits() -> None:
    with pytest.raises(CreditCodeError, match="the character at position 4 is not allowed: positions 3-8"):
        validate_credit_code(_swap("91330100716105852F", 4, "A"))


def test_organisation_code_check() -> None:
    broken = make_credit_code("9133010071610585" + "3")  # organisation check should be 2
    with pytest.raises(
        CreditCodeError, match=r"organisation code check character \(position 17\) is wrong, expected '2'"
    ):
        validate_credit_code(broken)
    assert validate_credit_code(broken, check_org_code=False) == broken
    assert is_valid_credit_code(broken, check_org_code=False) and not is_valid_credit_code(broken)


def test_organisation_check_values_10_and_11() -> None:
    assert make_org_code("71526726") == "71526726X"  # remainder gives 10 -> X
    eleven = next(
        b
        for b in (f"{n:08d}" for n in range(1, 10_000))
        if sum(int(c) * w for c, w in zip(b, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11 == 0
    )
    assert make_org_code(eleven) == eleven + "0"  # 11 - 0 = 11 -> 0
    assert make_org_code("ma1k3yj1") == "MA1K3YJ1" + make_org_code("MA1K3YJ1")[-1]


def test_round_trip_of_generated_codes() -> None:
    rng = random.Random(32100)
    body_alphabet = ALPHABET
    for _ in range(2000):
        authority, kind = rng.choice("159Y"), rng.choice("123")
        division = f"{rng.randrange(11, 66):02d}{rng.randrange(0, 10000):04d}"
        org = make_org_code("".join(rng.choice(body_alphabet) for _ in range(8)))
        code = make_credit_code(authority + kind + division + org)
        assert len(code) == 18
        assert validate_credit_code(code) == code
        assert make_credit_code(code[:17].lower()) == code


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("913301007161058", "prefix must be 17 characters, got 15"),
        ("9133010071610585O", "the character at position 17 is not allowed"),
        ("91X3010071610585", "must be 17 characters, got 16"),
        ("91X301007161058523"[:17], "the character at position 3 is not allowed: positions 3-8"),
    ],
)
def test_make_credit_code_refuses_bad_prefixes(prefix: str, message: str) -> None:
    with pytest.raises(CreditCodeError, match=message):
        make_credit_code(prefix)


@pytest.mark.parametrize("body", ["7161058", "716105852", "7161058I", "７１６１０５８５"])
def test_make_org_code_refuses_bad_bodies(body: str) -> None:
    with pytest.raises(CreditCodeError, match="organisation code body"):
        make_org_code(body)


@pytest.mark.parametrize("value", [None, 91330100716105852, b"91330100716105852F"])
def test_non_strings(value: object) -> None:
    with pytest.raises(CreditCodeError, match="must be a string"):
        validate_credit_code(value)  # type: ignore[arg-type]
    assert not is_valid_credit_code(value)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(CreditCodeError, ValueError)
