"""The table of facts per message kind: complete, consistent, and the lists other modules read are
derived from it."""

from __future__ import annotations

from broker.domain import kinds
from broker.domain.address import SYSTEM_ADDRESS, Address
from broker.domain.kinds import KINDS, Kind
from broker.domain.messages import MESSAGE_TYPES


def test_every_kind_is_described_once_and_has_a_model() -> None:
    assert set(KINDS) == set(Kind) == set(MESSAGE_TYPES)


def test_each_model_takes_its_rules_from_the_table() -> None:
    for kind, model in MESSAGE_TYPES.items():
        assert model.IS_REPLY is KINDS[kind].is_reply, kind
        assert KINDS[kind].case_facts == model.CASE_FACTS, kind


def test_replies_answer_only_what_someone_publishes() -> None:
    for reply, answered in kinds.ANSWERS.items():
        assert answered, reply
        assert answered <= kinds.PUBLISHED, reply
        assert not answered & kinds.GENERATED_ONLY, reply
    for ack in (Kind.RECEIPT_ACK, Kind.COMPLETION_ACK):
        assert not kinds.ANSWERS[ack] & {Kind.RECEIPT_ACK, Kind.COMPLETION_ACK, Kind.DEADLINE_NOTICE}


def test_derived_lists_are_the_ones_the_rules_were_written_for() -> None:
    # the lists as they were kept by hand before the table: deriving them changed no rule
    assert {Kind.REFERRAL_LINKED, Kind.DELIVERY_REFUSED, Kind.ASSESSMENT_RESULT} == kinds.GENERATED_ONLY
    assert {Kind.DEADLINE_NOTICE} == kinds.FROM_SYSTEM
    assert {Kind.CASE_NOTICE, Kind.ASSISTANCE_REQUEST, Kind.CASE_TRANSFER} == kinds.FORWARDABLE
    assert {Kind.RECEIPT_ACK} == kinds.COPY_HOLDER_MAY_SEND
    assert {
        Kind.CASE_NOTICE,
        Kind.ASSISTANCE_REQUEST,
        Kind.ESCALATION,
        Kind.DIRECTIVE,
        Kind.CASE_TRANSFER,
        Kind.COORDINATION_REQUEST,
        Kind.POLICE_REFERRAL,
        Kind.JURISDICTION_REQUEST,
    } == kinds.CASE_BEARING
    everything_but = frozenset(Kind) - {
        Kind.RECEIPT_ACK,
        Kind.COMPLETION_ACK,
        Kind.DEADLINE_NOTICE,
        Kind.REFERRAL_LINKED,
        Kind.DELIVERY_REFUSED,
        Kind.ASSESSMENT_REQUEST,
        Kind.ASSESSMENT_RESULT,
    }
    assert kinds.ANSWERS[Kind.RECEIPT_ACK] == kinds.ANSWERS[Kind.COMPLETION_ACK] == everything_but
    assert kinds.ANSWERS[Kind.FILE_RETURN] == {Kind.POLICE_REFERRAL, Kind.FILING_DECISION}
    assert kinds.ANSWERS[Kind.ASSESSMENT_RESULT] == {Kind.ASSESSMENT_REQUEST}
    assert len(kinds.ANSWERS) == 15  # supervision_report (督办结果) answers a directive (issue 15)


def test_an_assessment_request_carries_facts_but_nobody_owes_for_it() -> None:
    # only the broker reads it: no receipt, no transfer decision (both rules read CASE_BEARING)
    assert Kind.ASSESSMENT_REQUEST in kinds.REQUIRES_CASE
    assert Kind.ASSESSMENT_REQUEST not in kinds.CASE_BEARING
    assert Kind.ASSESSMENT_REQUEST in kinds.PUBLISHED


def test_records_carry_facts_but_ask_for_no_receipt() -> None:
    records = {k for k, f in KINDS.items() if f.record}
    assert records == {Kind.ADMINISTRATIVE_INTERVIEW, Kind.JOINT_ACTION, Kind.TRANSFER_DECLINED}
    assert records <= kinds.CARRIES_CASE
    assert not records & kinds.CASE_BEARING


def test_the_rule_modules_read_the_table() -> None:
    from broker.domain import routing
    from broker.tracker import rules

    assert rules.CASE_BEARING is kinds.CASE_BEARING
    assert routing.ANSWERS is kinds.ANSWERS
    assert routing.GENERATED_ONLY is kinds.GENERATED_ONLY


def test_the_broker_has_one_address() -> None:
    from broker import participants

    assert str(SYSTEM_ADDRESS) == "system:000000"
    assert Address.parse(str(SYSTEM_ADDRESS)) == SYSTEM_ADDRESS
    assert participants.SYSTEM is SYSTEM_ADDRESS
