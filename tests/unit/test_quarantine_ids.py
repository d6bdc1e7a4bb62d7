"""How quarantined messages are named, and what of an unchecked envelope may be told about them."""

from __future__ import annotations

import json
from uuid import uuid4

from broker.domain import quarantine_ids as ids


def body(**envelope: object) -> bytes:
    return json.dumps({"envelope": envelope, "body": {"name": "张三", "phone": "13812345678"}}).encode()


def test_well_formed_envelope_fields_are_read() -> None:
    message_id = str(uuid4())
    facts = ids.envelope_facts(
        body(message_id=message_id, kind="case_notice", sender="bureau:330681", case_id="ZJZJ-2019-42")
    )
    assert facts == ids.Facts(message_id, "case_notice", "bureau:330681", "ZJZJ-2019-42")


def test_a_field_that_fails_its_check_is_left_out_never_copied() -> None:
    facts = ids.envelope_facts(
        body(message_id="13812345678", kind="张三", sender="bureau:13812345678", case_id="13812345678")
    )
    assert facts == ids.Facts()
    assert ids.envelope_facts(body(sender="张三 <a@b.cn>", case_id="ZJ-110101199003077777")) == ids.Facts()


def test_unreadable_bodies_have_no_facts() -> None:
    for raw in (b"", b"not json", b"[1, 2]", b'{"envelope": "x"}', b"\xff\xfe", b"[" * 100_000):
        assert ids.envelope_facts(raw) == ids.Facts()


def test_the_id_is_the_envelope_id_else_the_amqp_uuid_else_the_body_digest() -> None:
    envelope_id, amqp_id = str(uuid4()), str(uuid4())
    digest = ids.digest(b"x")
    assert ids.quarantine_id(ids.Facts(message_id=envelope_id), amqp_id, digest) == envelope_id
    assert ids.quarantine_id(ids.Facts(), amqp_id, digest) == amqp_id
    assert ids.quarantine_id(ids.Facts(), "not-a-uuid", digest) == f"sha256:{digest[:16]}"
    assert ids.quarantine_id(ids.Facts(), None, ids.digest(b"x")) == ids.quarantine_id(
        ids.Facts(), None, digest
    )


def test_an_operator_may_name_a_message_by_id_or_by_enough_of_its_digest() -> None:
    digest = ids.digest(b"payload")
    name = ids.digest_id(digest)
    assert ids.matches(name, name, digest)
    assert ids.matches(name.upper(), name, digest)
    assert ids.matches(digest, name, digest) and ids.matches(digest[:16], name, digest)
    assert not ids.matches(digest[:8], name, digest)  # too short to be sure
    assert not ids.matches(ids.digest(b"other")[:16], name, digest)
