"""Contract 2.1 beside 2.0 (broker/domain/versions.py): the router reads 2.0 messages of the 2.0
kinds as they were published, refuses a 2.0 message that uses a kind or field 2.1 added (naming it
and the version to send), and what the broker makes carries the oldest version that holds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from broker.domain.address import Address
from broker.domain.kinds import Kind
from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION
from broker.domain.refusals import refusal_notice
from broker.domain.validation import SUPPORTED_VERSIONS, ContractError, parse_message
from broker.domain.versions import ADDED_IN, READ_VERSIONS, kinds_of
from broker.tools.contract import rendered
from broker.tools.contract.sealed import SEALABLE
from tests.support.messages import msg
from tests.support.routing import PARTICIPANTS, World

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
EXAMPLES = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (SCHEMAS / "examples").glob("*.json")}
PUBLISHED_2_0 = {
    "case_notice", "assistance_request", "assistance_reply", "extension_request", "extension_decision",
    "escalation", "directive", "case_transfer", "jurisdiction_designation", "coordination_request",
    "coordination_reply", "police_referral", "police_receipt", "filing_decision", "file_return",
    "reconsideration_request", "receipt_ack", "completion_ack", "deadline_notice", "referral_linked",
}  # fmt: skip
"""The kinds of contract 2.0 as it was published (its commit's messages.py)."""
PUBLISHED_2_0_FIELDS: dict[str, set[str]] = {
    "AckBody": {"evidence", "persons", "summary"},
    "AssistanceReplyBody": {"complete", "evidence", "findings", "persons", "summary"},
    "AssistanceRequestBody": {"evidence", "persons", "questions", "summary"},
    "CaseFacts": {
        "administrative_penalty_within_2_years",
        "company_credit_code",
        "illegal_income_cny",
        "insider",
        "location_data_used_for_crime",
        "other_serious_circumstances",
        "prior_criminal_penalty",
        "records",
        "sector",
        "severe_harms",
        "supplied_to_known_criminal",
        "violations",
    },
    "CaseNoticeBody": {"evidence", "persons", "summary"},
    "CaseTransferBody": {"evidence", "persons", "reason", "summary"},
    "ClauseFinding": {"clause", "figures", "title"},
    "CoordinationReplyBody": {"answer", "evidence", "persons", "summary"},
    "CoordinationRequestBody": {"action", "evidence", "persons", "request", "summary"},
    "DeadlineNoticeBody": {
        "basis",
        "due_at",
        "notice",
        "obligation",
        "obligation_id",
        "owed_by",
        "owed_to",
        "regarding",
    },
    "DirectiveBody": {"directive_type", "evidence", "instructions", "persons", "summary"},
    "EscalationBody": {"evidence", "persons", "reason", "summary"},
    "Evidence": {"description", "reference"},
    "ExtensionDecisionBody": {"evidence", "extra_working_days", "granted", "persons", "summary"},
    "ExtensionRequestBody": {"evidence", "extra_working_days", "persons", "reason", "summary"},
    "FileReturnBody": {"evidence", "persons", "returned_items", "summary"},
    "FilingDecisionBody": {"decision", "evidence", "persons", "reasons", "summary"},
    "JurisdictionDesignationBody": {"designated", "evidence", "persons", "summary"},
    "Person": {"address", "email", "id_number", "name", "phone", "role"},
    "PoliceReceiptBody": {"evidence", "persons", "received_at", "summary"},
    "PoliceReferralBody": {
        "approved_at",
        "approved_by",
        "clauses",
        "evidence",
        "explanation",
        "level",
        "persons",
        "summary",
        "threshold_version",
    },
    "ReconsiderationRequestBody": {"evidence", "persons", "reason", "summary"},
    "RecordCount": {"category", "held", "provided"},
    "ReferralLinkedBody": {"bureaus", "linked", "police", "reason", "referral"},
}
"""The fields of every 2.0 definition as 2.0 was published (its schemas/v2.0/, commit of "Contract 2.0").
A field a later version adds must be named in versions.ADDED_IN, or this fails."""
ENVELOPE_2_0 = {
    "message_id", "kind", "schema_version", "sender", "to", "scope", "case_id", "in_reply_to",
    "causation_id", "forwards", "sent_at", "handling", "case",
}  # fmt: skip
ADDED_FACTS = ("own_lawful_business", "profit_from_use_cny", "other_especially_serious_circumstances")


def as_2_0(data: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    out["envelope"]["schema_version"] = "2.0"
    for name in ADDED_FACTS:
        (out["envelope"].get("case") or {}).pop(name, None)
    return out


def parsed(data: dict[str, Any]) -> Any:
    return parse_message(json.dumps(data, ensure_ascii=False).encode())


def test_the_broker_reads_2_0_and_writes_2_1() -> None:
    assert READ_VERSIONS == ("2.0", "2.1") and SCHEMA_VERSION == "2.1"
    assert {k.value for k in kinds_of("2.0")} == PUBLISHED_2_0
    assert kinds_of("2.1") == set(MESSAGE_TYPES) == set(SUPPORTED_VERSIONS["2.1"])
    assert set(SUPPORTED_VERSIONS["2.0"]) == kinds_of("2.0")


@pytest.mark.parametrize("kind", sorted(PUBLISHED_2_0))
def test_a_2_0_message_of_a_2_0_kind_is_read_as_2_0(kind: str) -> None:
    message = parsed(as_2_0(EXAMPLES[kind]))
    assert message.envelope.schema_version == "2.0" and message.envelope.kind.value == kind


@pytest.mark.parametrize("kind", sorted(k.value for k in ADDED_IN["2.1"].kinds))
def test_a_2_0_message_of_a_kind_added_in_2_1_is_refused_saying_so(kind: str) -> None:
    with pytest.raises(ContractError) as info:
        parsed(as_2_0(EXAMPLES[kind]))
    (error,) = info.value.errors
    assert error.field == "envelope.kind"
    assert error.reason == f"{kind} is a kind of contract 2.1, not of 2.0: send schema_version 2.1"


@pytest.mark.parametrize("name", ADDED_FACTS)
def test_a_2_0_message_using_a_case_fact_added_in_2_1_is_refused_naming_it(name: str) -> None:
    data = as_2_0(EXAMPLES["case_notice"])
    data["envelope"]["case"][name] = EXAMPLES["case_notice"]["envelope"]["case"][name]  # even the default
    with pytest.raises(ContractError) as info:
        parsed(data)
    assert [e.field for e in info.value.errors] == [f"envelope.case.{name}"]
    assert "added in 2.1; send schema_version 2.1" in str(info.value)
    data["envelope"]["schema_version"] = "2.1"
    assert parsed(data).envelope.case is not None


def test_a_2_0_referral_with_a_legal_basis_is_refused_and_a_2_1_one_read() -> None:
    data = as_2_0(EXAMPLES["police_referral"])
    data["body"]["legal_basis"] = {"offence": "other_offence", "citation": "c", "reason": "r"}
    with pytest.raises(ContractError) as info:
        parsed(data)
    assert info.value.field == "body.legal_basis"
    data["envelope"]["schema_version"] = "2.1"
    assert parsed(data).body.legal_basis is not None


def test_a_2_0_message_is_routed_like_a_2_1_one() -> None:
    current = msg(Kind.ESCALATION, "bureau:330681", [])
    older = parsed(as_2_0(json.loads(current.model_dump_json(exclude_none=True))))
    assert World().route(older).deliveries == World().route(current).deliveries


def test_what_the_broker_makes_carries_the_oldest_version_that_holds_it() -> None:
    """A recipient still validating 2.0 reads the broker's deadline notices and referral links (2.0
    kinds); what only 2.1 has (refusals, assessment results) carries 2.1."""
    import jsonschema

    from broker.tracker.notices import Notice, notice_message

    world = World(PARTICIPANTS | {Address.parse("police:330600")})
    world.route(msg(Kind.POLICE_REFERRAL, "bureau:330681", []))
    linked = world.route(msg(Kind.POLICE_REFERRAL, "bureau:330600", [])).notices
    asked = parsed(as_2_0(EXAMPLES["case_notice"]))  # a 2.0 publisher is answered in 2.1
    refused = refusal_notice(
        Address.parse("bureau:330681"),
        stage="routing",
        field="envelope.to",
        reason="r",
        quarantine_id="q",
        refused_message_id=str(asked.envelope.message_id),
        case_id=asked.envelope.case_id,
        sent_at=datetime.now(UTC),
    )
    result = World().route(msg(Kind.ASSESSMENT_REQUEST, "bureau:330681", [], {}))
    for made in (refused, *result.notices):
        assert made.envelope.schema_version == "2.1", made.envelope.kind
    deadline = notice_message(
        Notice.REMINDER,
        to=Address.parse("bureau:330600"),
        obligation_id="receipt-1",
        what="receipt_ack",
        regarding=str(asked.envelope.message_id),
        case_id=asked.envelope.case_id,
        owed_by=Address.parse("bureau:330600"),
        owed_to=Address.parse("bureau:330681"),
        due_at=datetime.now(UTC),
        basis="b",
    )
    for made in (*linked, deadline):
        assert made.envelope.schema_version == "2.0", made.envelope.kind
        schema = json.loads((SCHEMAS / "v2.0" / f"{made.envelope.kind.value}.schema.json").read_text())
        jsonschema.validate(json.loads(made.model_dump_json(exclude_none=True)), schema)
    assert linked


def test_each_version_has_its_folder_of_schemas_with_its_kinds_only() -> None:
    files = rendered(SCHEMAS)
    for version in READ_VERSIONS:
        names = {p.name for p in files if p.parent == SCHEMAS / f"v{version}"}
        sealed = {n.removesuffix(".sealed.schema.json") for n in names if n.endswith(".sealed.schema.json")}
        plain = {n for n in names if not n.endswith(".sealed.schema.json")}
        kinds = {n.removesuffix(".schema.json") for n in plain} - {"message", "records"}
        assert kinds == {k.value for k in kinds_of(version)}, version
        # the sealed form is written for the current version only (FORMAT.md)
        assert sealed == ({k.value for k in SEALABLE} if version == READ_VERSIONS[-1] else set()), version
        index = json.loads(files[SCHEMAS / f"v{version}" / "message.schema.json"])
        assert set(index["properties"]["envelope"]["properties"]["kind"]["enum"]) == kinds
    old = json.loads(files[SCHEMAS / "v2.0" / "police_referral.schema.json"])
    assert "legal_basis" not in old["$defs"]["PoliceReferralBody"]["properties"]
    assert "LegalBasis" not in old["$defs"]
    assert not set(ADDED_FACTS) & set(old["$defs"]["CaseFacts"]["properties"])
    assert old["$defs"]["PoliceReferralEnvelope"]["properties"]["schema_version"]["const"] == "2.0"


def test_2_0_has_the_fields_it_was_published_with_and_no_other() -> None:
    files = rendered(SCHEMAS)
    for kind in kinds_of("2.0"):
        schema = json.loads(files[SCHEMAS / "v2.0" / f"{kind.value}.schema.json"])
        for name, definition in schema["$defs"].items():
            if "properties" not in definition:
                continue
            fields = set(definition["properties"])
            if name.endswith("Envelope"):
                assert fields == ENVELOPE_2_0, (kind, name)
            else:
                assert fields == PUBLISHED_2_0_FIELDS[name], (kind, name)
