"""The contract: every example validates; a corpus of broken messages is rejected, naming the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION
from broker.domain.validation import MAX_MESSAGE_BYTES, ContractError, parse_message, validate_message
from broker.tools.contract.examples import example_messages

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def _examples() -> dict[str, dict[str, Any]]:
    return {m.envelope.kind.value: m.model_dump(mode="json", exclude_none=True) for m in example_messages()}


def test_one_example_per_kind() -> None:
    assert sorted(_examples()) == sorted(k.value for k in MESSAGE_TYPES)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_committed_example_validates(path: Path) -> None:
    message = parse_message(path.read_bytes())
    assert message.envelope.kind.value == path.stem


def _rejected(data: Any) -> ContractError:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(ContractError) as info:
        parse_message(raw)
    return info.value


Breaker = Callable[[dict[str, Any]], None]

# (name, how to break an example, the field the error must name)
ENVELOPE_BREAKS: list[tuple[str, Breaker, str]] = [
    ("missing message_id", lambda m: m["envelope"].pop("message_id"), "envelope.message_id"),
    ("bad message_id", lambda m: m["envelope"].update(message_id="42"), "envelope.message_id"),
    ("naive sent_at", lambda m: m["envelope"].update(sent_at="2019-06-03T09:30:00"), "envelope.sent_at"),
    ("sender unknown code", lambda m: m["envelope"].update(sender="bureau:999999"), "envelope.sender"),
    ("sender retired code", lambda m: m["envelope"].update(sender="bureau:110103"), "envelope.sender"),
    ("sender unknown party", lambda m: m["envelope"].update(sender="army:330681"), "envelope.sender"),
    ("sender not an address", lambda m: m["envelope"].update(sender="330681"), "envelope.sender"),
    # keys outside the contract are named by position, never by their text
    ("unknown envelope field", lambda m: m["envelope"].update(priority="high"), "envelope.<key #"),
    ("unknown top-level field", lambda m: m.update(extra={}), "<key #3>"),
    ("bad case id", lambda m: m["envelope"].update(case_id="case id with spaces"), "envelope.case_id"),
    ("unknown handling", lambda m: m["envelope"].update(handling=["top_secret"]), "envelope.handling.0"),
    ("wrong type to", lambda m: m["envelope"].update(to="bureau:330600"), "envelope.to"),
    (
        "duplicate addressee",
        lambda m: m["envelope"].update(to=["bureau:330600", "bureau:330600"]),
        "envelope.to",
    ),
    ("body unknown field", lambda m: m["body"].update(secret="x"), "body.<key #"),
]

CASE_BREAKS: list[tuple[str, Breaker, str]] = [
    (
        "negative records",
        lambda m: m["envelope"]["case"]["records"][0].update(provided=-1),
        "envelope.case.records.0.provided",
    ),
    (
        "negative income",
        lambda m: m["envelope"]["case"].update(illegal_income_cny="-5"),
        "envelope.case.illegal_income_cny",
    ),
    (
        "bad credit code",
        lambda m: m["envelope"]["case"].update(company_credit_code="91330681MA29FT8L2D"),
        "envelope.case.company_credit_code",
    ),
    ("unknown sector", lambda m: m["envelope"]["case"].update(sector="mining"), "envelope.case.sector"),
    ("no violation", lambda m: m["envelope"]["case"].update(violations=[]), "envelope.case.violations"),
    (
        "unknown category",
        lambda m: m["envelope"]["case"]["records"][0].update(category="dna"),
        "envelope.case.records.0.category",
    ),
    ("missing case facts", lambda m: m["envelope"].pop("case"), "envelope.case"),
    (
        "count as string",
        lambda m: m["envelope"]["case"]["records"][0].update(provided="many"),
        "envelope.case.records.0.provided",
    ),
]


@pytest.mark.parametrize("kind", [k.value for k in MESSAGE_TYPES])
@pytest.mark.parametrize("name,breaker,field", ENVELOPE_BREAKS, ids=[b[0] for b in ENVELOPE_BREAKS])
def test_each_example_with_a_broken_envelope_field(
    kind: str, name: str, breaker: Breaker, field: str
) -> None:
    message = copy.deepcopy(_examples()[kind])
    breaker(message)
    error = _rejected(message)
    assert any(e.field.startswith(field) for e in error.errors), str(error)
    assert all(e.reason for e in error.errors)


CASE_KINDS = [k.value for k, m in MESSAGE_TYPES.items() if m.CASE_FACTS == "required"]


@pytest.mark.parametrize("kind", CASE_KINDS)
@pytest.mark.parametrize("name,breaker,field", CASE_BREAKS, ids=[b[0] for b in CASE_BREAKS])
def test_each_case_bearing_example_with_broken_facts(
    kind: str, name: str, breaker: Breaker, field: str
) -> None:
    message = copy.deepcopy(_examples()[kind])
    breaker(message)
    error = _rejected(message)
    assert field in [e.field for e in error.errors], str(error)


REPLY_KINDS = [k.value for k, m in MESSAGE_TYPES.items() if m.IS_REPLY]


@pytest.mark.parametrize("kind", REPLY_KINDS)
def test_a_reply_that_references_nothing_is_rejected(kind: str) -> None:
    message = copy.deepcopy(_examples()[kind])
    del message["envelope"]["in_reply_to"]
    error = _rejected(message)
    assert error.field == "envelope.in_reply_to"
    assert "must name the message it answers" in error.errors[0].reason


def test_non_reply_must_not_claim_to_answer() -> None:
    message = _examples()["case_notice"]
    message["envelope"]["in_reply_to"] = message["envelope"]["message_id"]
    assert _rejected(message).field == "envelope.in_reply_to"


def test_case_facts_on_an_ack_are_refused() -> None:
    message = _examples()["receipt_ack"]
    message["envelope"]["case"] = _examples()["case_notice"]["envelope"]["case"]
    assert _rejected(message).field == "envelope.case"


@pytest.mark.parametrize(
    "raw,field,words",
    [
        (b"not json at all", "$", "not JSON"),
        (b"\xff\xfe{}", "$", "not UTF-8"),
        (b"[1, 2]", "$", "JSON object"),
        (b'"text"', "$", "JSON object"),
        (b"{}", "envelope", "missing"),
        (b'{"envelope": 3}', "envelope", "not a JSON object"),
        (b"[" * 100 + b"]" * 100, "$", "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "$", "nested too deeply"),
        (b" " * (MAX_MESSAGE_BYTES + 1), "$", "limit"),
    ],
    ids=[
        "not-json",
        "not-utf8",
        "array",
        "string",
        "no-envelope",
        "envelope-number",
        "deep",
        "deeper",
        "oversize",
    ],
)
def test_raw_garbage(raw: bytes, field: str, words: str) -> None:
    error = _rejected(raw)
    assert error.field == field
    assert words in str(error)


def test_deep_nesting_inside_a_field_is_a_type_error() -> None:
    message = _examples()["case_notice"]
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    message["body"]["summary"] = nested
    assert _rejected(message).field == "body.summary"


def test_unknown_kind() -> None:
    message = _examples()["case_notice"]
    message["envelope"]["kind"] = "love_letter"
    error = _rejected(message)
    assert error.field == "envelope.kind" and "not a known message kind" in str(error)
    assert "love_letter" not in str(error)


def test_kind_of_another_model() -> None:
    message = _examples()["case_notice"]
    message["envelope"]["kind"] = "escalation"
    error = _rejected(message)
    assert "body.reason" in [e.field for e in error.errors]


@pytest.mark.parametrize("version", ["9.0", "0.9", 1, None])
def test_unknown_version_is_named(version: Any) -> None:
    message = _examples()["case_notice"]
    message["envelope"]["schema_version"] = version
    error = _rejected(message)
    assert error.field == "envelope.schema_version"
    assert f"(supported: 2.0, {SCHEMA_VERSION})" in str(error)
    expected = "missing" if version is None else "not a version this broker reads"
    assert (
        error.errors[0].reason == f"{expected} (supported: 2.0, {SCHEMA_VERSION})"
    )  # the value is not echoed


def test_filing_decision_not_filed_needs_reasons() -> None:
    message = _examples()["filing_decision"]
    message["body"]["reasons"] = "  "
    assert _rejected(message).field == "body.reasons"


def test_directive_to_all_subordinates_takes_no_addressees() -> None:
    message = _examples()["directive"]
    message["envelope"]["to"] = ["bureau:330600"]
    assert _rejected(message).field == "envelope.to"


def test_only_a_directive_goes_to_all_subordinates() -> None:
    message = _examples()["case_notice"]
    message["envelope"].update(scope="all_subordinates", to=[])
    assert _rejected(message).field == "envelope.scope"


def test_same_category_twice_is_refused() -> None:
    message = _examples()["case_notice"]
    message["envelope"]["case"]["records"].append({"category": "other", "provided": 1})
    assert _rejected(message).field == "envelope.case.records"


def test_round_trip() -> None:
    for message in example_messages():
        again = validate_message(json.loads(message.model_dump_json()))
        assert again == message


def _corpus_valid() -> list[dict[str, Any]]:
    corpus = Path(__file__).resolve().parents[2] / "schemas" / "corpus"
    items = [i for path in sorted(corpus.glob("*.json")) for i in json.loads(path.read_text())["items"]]
    return [i for i in items if i["expect"] == "valid" and "message" in i]


@pytest.mark.parametrize("item", _corpus_valid(), ids=lambda i: i["name"])
def test_what_the_router_accepts_it_writes_in_a_spelling_it_accepts(item: dict[str, Any]) -> None:
    # the tracker, the routing log and recipients read the router's own serialisation: the strict
    # wire types must accept it (a signed zero, a UTC time, a truncated fraction)
    message = parse_message(json.dumps(item["message"]).encode())
    again = parse_message(message.model_dump_json(exclude_none=True).encode())
    assert again == message


def test_python_values_are_accepted_from_code() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal
    from uuid import uuid4

    from broker.domain.case import CaseFacts, Sector, Violation
    from broker.domain.messages import Envelope, Kind

    facts = CaseFacts(
        company_credit_code="91330681MA29FT8L2C",
        sector=Sector.REAL_ESTATE,
        violations=[Violation.COLLECTING_WITHOUT_CONSENT],
        illegal_income_cny=Decimal("1200.50"),
    )
    envelope = Envelope(
        message_id=uuid4(),
        kind=Kind.CASE_NOTICE,
        schema_version="2.0",
        sender="bureau:330681",
        case_id="ZJSX-2019-0042",
        sent_at=datetime.now(UTC),
        case=facts,
    )
    assert envelope.case is not None and envelope.case.illegal_income_cny == Decimal("1200.50")
