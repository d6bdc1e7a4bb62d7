"""Validation errors name the field and the reason and never repeat what the sender wrote; a key
given twice is an error at any depth (parsers disagree on which value wins)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from broker.cli.main import main
from broker.domain.validation import ContractError, parse_message
from broker.tools.contract.examples import example_messages

PERSONAL = [
    "张伟 13912345678",
    "王秀英 北京市朝阳区建国路88号",
    "330681199001011236",
    "zhang.wei@example.cn",
    "6222021234567890123",
]
"""Values that must never come back in an error text."""


def _example(kind: str) -> dict[str, Any]:
    for message in example_messages():
        if message.envelope.kind.value == kind:
            return message.model_dump(mode="json", exclude_none=True)
    raise KeyError(kind)


def _error(raw: bytes) -> ContractError:
    with pytest.raises(ContractError) as info:
        parse_message(raw)
    return info.value


def _assert_not_echoed(value: str, error: ContractError) -> None:
    text = str(error)
    for token in value.split():
        assert token not in text, text


# ---- repeated keys ----


def test_sender_given_twice_is_refused_naming_the_field() -> None:
    # The attack of the probe: a first-wins parser at the recipient would read SAMR as the sender.
    raw = json.dumps(_example("case_notice"), ensure_ascii=False)
    raw = raw.replace('"sender": "bureau:330681"', '"sender": "bureau:000000", "sender": "bureau:330681"')
    error = _error(raw.encode())
    assert error.field == "envelope.sender"
    assert error.errors[0].reason == "this key appears more than once in its object"


def test_a_repeated_key_deep_in_the_case_facts_is_refused() -> None:
    raw = json.dumps(_example("case_notice"))
    raw = raw.replace('"category": "other"', '"category": "other", "category": "credit"')
    assert _error(raw.encode()).field == "envelope.case.records.0.category"


def test_a_repeated_key_in_the_body_is_refused() -> None:
    raw = json.dumps(_example("case_notice"), ensure_ascii=False)
    raw = raw.replace('"role": "suspect"', '"role": "victim", "role": "suspect"')
    assert _error(raw.encode()).field == "body.persons.0.role"


def test_a_repeated_unknown_key_is_named_by_position_not_text() -> None:
    raw = json.dumps(_example("case_notice"), ensure_ascii=False)
    raw = raw.replace('{"message_id"', '{"张伟_13912345678": 1, "张伟_13912345678": 2, "message_id"', 1)
    error = _error(raw.encode())
    assert error.field == "envelope.<key #1>"
    _assert_not_echoed("张伟_13912345678", error)


def test_equal_keys_in_different_objects_are_fine() -> None:
    message = _example("case_notice")
    assert "summary" in message["body"] and "persons" in message["body"]
    parse_message(json.dumps(message).encode())  # "role"/"name" in persons, "category" in records


def test_validate_command_reports_a_repeated_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.dumps(_example("case_notice"))
    path = tmp_path / "twice.json"
    path.write_text(raw.replace('"kind": "case_notice"', '"kind": "escalation", "kind": "case_notice"'))
    assert main(["validate", str(path)]) == 1
    assert f"{path}: envelope.kind: this key appears more than once" in capsys.readouterr().out


# ---- values are never echoed ----

ENVELOPE_FIELDS = [
    ("message_id",),
    ("kind",),
    ("schema_version",),
    ("sender",),
    ("to", 0),
    ("scope",),
    ("case_id",),
    ("causation_id",),
    ("forwards",),
    ("sent_at",),
    ("handling", 0),
    ("case", "company_credit_code"),
    ("case", "sector"),
    ("case", "violations", 0),
    ("case", "records", 0, "category"),
    ("case", "records", 0, "provided"),
    ("case", "illegal_income_cny"),
]


def _put(node: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and last >= len(node):
        node.append(value)
    else:
        node[last] = value


@pytest.mark.parametrize("value", PERSONAL)
@pytest.mark.parametrize("path", ENVELOPE_FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_a_wrong_envelope_value_is_described_not_quoted(path: tuple[str | int, ...], value: str) -> None:
    message = copy.deepcopy(_example("case_notice"))
    _put(message["envelope"], path, value)
    error = _error(json.dumps(message, ensure_ascii=False).encode())
    assert error.field.startswith("envelope." + str(path[0])), str(error)
    _assert_not_echoed(value, error)


@pytest.mark.parametrize("value", PERSONAL)
def test_a_wrong_body_value_is_described_not_quoted(value: str) -> None:
    message = _example("case_notice")
    message["body"]["persons"][0]["role"] = value
    error = _error(json.dumps(message, ensure_ascii=False).encode())
    assert error.field == "body.persons.0.role"
    _assert_not_echoed(value, error)


@pytest.mark.parametrize("where", ["top", "envelope", "case", "body", "person"])
def test_an_unknown_key_is_named_by_its_position(where: str) -> None:
    message = _example("case_notice")
    target = {
        "top": message,
        "envelope": message["envelope"],
        "case": message["envelope"]["case"],
        "body": message["body"],
        "person": message["body"]["persons"][0],
    }[where]
    target["王秀英_330681199001011236"] = "北京市朝阳区建国路88号"
    position = len(target)
    error = _error(json.dumps(message, ensure_ascii=False).encode())
    assert error.field.endswith(f"<key #{position}>"), str(error)
    assert error.errors[0].reason == "unknown field (not part of the contract)"
    _assert_not_echoed("王秀英_330681199001011236 北京市朝阳区建国路88号", error)


def test_a_key_the_sender_chose_inside_a_map_is_named_by_position() -> None:
    message = _example("police_referral")
    message["body"]["clauses"][0]["figures"] = {"records": "1", "张伟13912345678": 5}
    error = _error(json.dumps(message, ensure_ascii=False).encode())
    assert error.field == "body.clauses.0.figures.<key #2>", str(error)
    _assert_not_echoed("张伟13912345678", error)


def test_uuid_parser_details_do_not_quote_characters() -> None:
    message = _example("case_notice")
    message["envelope"]["message_id"] = "王"
    error = _error(json.dumps(message, ensure_ascii=False).encode())
    assert error.field == "envelope.message_id"
    assert "王" not in str(error) and "UUID" in str(error)


# ---- the case number cannot carry personal data (contract 2.0) ----


@pytest.mark.parametrize(
    "case_id", ["ZJSX-2019-0042", "ZJ-SX-JC-2019-000042", "SX-17", "C-1", "ZJ-ZJ-2019-0042"]
)
def test_bureau_case_numbers_fit_the_shape(case_id: str) -> None:
    message = _example("case_notice")
    message["envelope"]["case_id"] = case_id
    assert parse_message(json.dumps(message).encode()).envelope.case_id == case_id


@pytest.mark.parametrize(
    "case_id",
    [
        "13912345678",  # mobile
        "ZJ-13912345678",
        "ZJ-139-1234-5678",  # split across groups
        "ZJ-1391-2345678",  # the first digit group must be a year, the serial at most six digits
        "ZJ-0575-87012345",  # landline with area code
        "330681199001011236",  # 18-digit ID
        "ID330681199001011236",
        "ZJ-330681900101123",  # 15-digit ID
        "ZJ-6222-0212-3456-7894",  # bank card in groups
        "zhang.wei@example.cn",
        "张伟-2019-1",
        "330681-2019-0042",  # a division code is six digits too many
        "zj-2019-0042",
    ],
)
def test_case_numbers_that_could_hold_personal_data_are_refused(case_id: str) -> None:
    message = _example("case_notice")
    message["envelope"]["case_id"] = case_id
    error = _error(json.dumps(message, ensure_ascii=False).encode())
    assert error.field == "envelope.case_id"
    _assert_not_echoed(case_id, error)


def test_version_1_0_is_refused_with_what_to_do() -> None:
    message = _example("case_notice")
    message["envelope"]["schema_version"] = "1.0"
    error = _error(json.dumps(message).encode())
    assert error.field == "envelope.schema_version"
    assert "Migrating from 1.0" in error.errors[0].reason


@pytest.mark.parametrize(
    ("path", "number"),
    [
        (("records", 0, "provided"), 13912345678),  # a mobile as a count
        (("records", 0, "held"), 330681900101123),  # a 15-digit ID
        (("illegal_income_cny",), "13912345678"),
        (("illegal_income_cny",), "6222021234567894"),  # a bank card as an amount
    ],
)
def test_case_facts_numbers_have_too_few_digits_for_a_phone_or_id(
    path: tuple[str | int, ...], number: int | str
) -> None:
    message = _example("case_notice")
    _put(message["envelope"]["case"], path, number)
    error = _error(json.dumps(message).encode())
    assert error.field == "envelope.case." + ".".join(map(str, path))
    _assert_not_echoed(str(number), error)


@pytest.mark.parametrize("field", ["threshold_version", "clause"])
def test_a_referral_finding_that_differs_is_refused_without_quoting_the_body(field: str) -> None:
    from broker.domain.case import CaseFacts
    from broker.domain.referrals import body_mismatch
    from broker.domain.threshold import assess

    message = _example("police_referral")
    if field == "clause":
        message["body"]["clauses"][0]["clause"] = "张伟 13912345678"
    else:
        message["body"]["threshold_version"] = "张伟 13912345678"
    parsed = parse_message(json.dumps(message, ensure_ascii=False).encode())
    mismatch = body_mismatch(parsed.body, assess(CaseFacts.model_validate(message["envelope"]["case"])))
    assert mismatch is not None
    where, reason = mismatch
    assert where == {"clause": "body.clauses", "threshold_version": "body.threshold_version"}[field]
    assert "张伟" not in reason and "13912345678" not in reason


def test_a_validation_error_printed_elsewhere_does_not_show_the_value() -> None:
    from pydantic import ValidationError

    from broker.domain.messages import CaseNotice

    message = _example("case_notice")
    message["envelope"]["case_id"] = "张伟 13912345678"
    with pytest.raises(ValidationError) as info:
        CaseNotice.model_validate(message)
    assert "envelope.case_id" in str(info.value)
    assert "13912345678" not in str(info.value) and "13912345678" not in repr(info.value)


def test_a_repeated_key_among_many_unknown_keys_is_found_quickly() -> None:
    import time

    message = _example("case_notice")
    message["body"]["summary"] = {f"k{n}": [{"a": n}] for n in range(8_000)}
    raw = json.dumps(message).replace('"k7999": [{"a": 7999}]', '"k19999": [{"a": 1, "a": 2}]')
    started = time.perf_counter()
    error = _error(raw.encode())
    assert time.perf_counter() - started < 1.0
    assert error.field == "body.summary.<key #8000>.0.<key #1>"
