"""The router and sealed bodies (broker/router/bodies.py, broker/domain/sealed_view.py), without a
broker: a sealed referral is routed on its envelope and clear routing facts and delivered as sealed;
a bad signature, altered routing facts and a recipient the body is not sealed for are refused with
the stage, field and reason; plaintext bodies are refused, kept without the body, unless the
transitional mode takes them; each recipient opens and checks the routing facts. Both suites."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.domain.address import Address
from broker.domain.messages import Kind, Message
from broker.domain.sealed_view import ROUTING_FACTS, routing_facts
from broker.domain.validation import ContractError, validate_message
from broker.router.bodies import Bodies
from broker.sealing import Sealing, SealingError, directory, seal_message
from broker.sealing.suites import SUITES
from broker.sealing.vectors import OUTSIDER, RECIPIENTS, World, _flip, world
from tests.support.messages import msg
from tests.support.router_fakes import PEOPLE, SENDER, TO, FakePublisher, body_of, inputs, pipeline

ID_NUMBER = "330681199001011234"
NAME = "王秀英"


@pytest.fixture(scope="module", params=sorted(SUITES))
def w(request: pytest.FixtureRequest) -> World:
    return world(SUITES[request.param])


def sealing(w: World, address: str | None = None) -> Sealing:
    return Sealing(w.suite, w.deployment, w.directory, w.rings[address] if address else None)


def referral() -> Message:
    plain = json.loads(body_of(msg(Kind.POLICE_REFERRAL, SENDER, [])))
    plain["body"]["persons"] = [{"role": "suspect", "name": NAME, "id_number": ID_NUMBER}]
    return validate_message(plain)


def sealed_bytes(w: World, message: Message, recipients: tuple[str, ...] | None = None) -> bytes:
    if recipients is None:
        wire = sealing(w, SENDER).seal(message, PEOPLE.addresses)
    else:
        wire = sealed_by_hand(w, message, recipients, routing_facts(message))
    return json.dumps(wire, ensure_ascii=False).encode()


def sealed_by_hand(
    w: World, message: Message, recipients: tuple[str, ...], routing: dict[str, Any]
) -> dict[str, Any]:
    """Sealed for recipients and with routing facts the sender chose, not the ones it should."""
    return seal_message(
        json.loads(body_of(message)),
        recipients,
        ring=w.rings[SENDER],
        directory=w.directory,
        the_suite=w.suite,
        at=message.envelope.sent_at,
        routing=routing,
    )


def routed(w: World, *raw: bytes, plaintext: bool = False) -> FakePublisher:
    publisher = FakePublisher()
    bodies = Bodies(plaintext=plaintext, sealing=sealing(w))
    pipeline(bodies=bodies).handle_batch(inputs(*raw), publisher, holding=False)
    return publisher


def quarantined(publisher: FakePublisher) -> dict[str, Any]:
    (entry,) = publisher.to(TO.quarantine)
    headers = entry.properties["application_headers"]
    return {
        "stage": headers["x-quarantine-stage"],
        "field": headers["x-quarantine-field"],
        "reason": headers["x-quarantine-reason"],
        "body": entry.body,
    }


def refusals(publisher: FakePublisher) -> list[dict[str, Any]]:
    return [json.loads(p.body) for p in publisher.to(TO.deliver) if p.routing_key == SENDER]


def test_a_sealed_referral_is_routed_and_delivered_sealed_to_the_police_and_the_procuratorate(
    w: World,
) -> None:
    raw = sealed_bytes(w, referral())
    publisher = routed(w, raw)
    copies = publisher.to(TO.deliver)
    assert sorted(c.routing_key for c in copies) == sorted(RECIPIENTS)
    assert all(c.body == raw for c in copies)
    for published in publisher.published:
        assert ID_NUMBER.encode() not in published.body and NAME.encode() not in published.body
    (record,) = publisher.to(TO.routing_log)
    assert json.loads(record.body)["event"] == "routed"


def test_each_recipient_opens_it_and_finds_the_routing_facts_in_the_body(w: World) -> None:
    message = referral()
    raw = sealed_bytes(w, message)
    for address in RECIPIENTS:
        opened = sealing(w, address).open(json.loads(raw))
        assert opened["body"]["persons"][0]["id_number"] == ID_NUMBER
    with pytest.raises(SealingError) as caught:
        sealing(w, OUTSIDER).open(json.loads(raw))
    assert caught.value.field == "sealed.recipients"


def test_a_tampered_signature_is_refused_at_authentication_and_the_sender_told(w: World) -> None:
    wire = json.loads(sealed_bytes(w, referral()))
    wire["sealed"]["signature"] = _flip(wire["sealed"]["signature"])
    publisher = routed(w, json.dumps(wire).encode())
    assert not [c for c in publisher.to(TO.deliver) if c.routing_key != SENDER]
    entry = quarantined(publisher)
    assert (entry["stage"], entry["field"]) == ("authentication", "sealed.signature")
    assert "altered after signing" in entry["reason"]
    assert ID_NUMBER.encode() not in entry["body"] and b'"sealed"' in entry["body"]  # ciphertext kept
    (notice,) = refusals(publisher)
    assert notice["body"]["stage"] == "authentication" and notice["body"]["field"] == "sealed.signature"


def test_routing_facts_changed_on_the_way_break_the_signature(w: World) -> None:
    wire = json.loads(sealed_bytes(w, referral()))
    wire["routing"]["level"] = "serious" if wire["routing"]["level"] != "serious" else "especially_serious"
    entry = quarantined(routed(w, json.dumps(wire).encode()))
    assert (entry["stage"], entry["field"]) == ("authentication", "sealed.signature")


def test_a_body_not_sealed_for_a_recipient_of_the_decision_is_refused_at_routing(w: World) -> None:
    raw = sealed_bytes(w, referral(), recipients=(RECIPIENTS[0],))  # the procuratorate left out
    publisher = routed(w, raw)
    entry = quarantined(publisher)
    assert (entry["stage"], entry["field"]) == ("routing", "sealed.recipients")
    assert RECIPIENTS[1] in entry["reason"]
    assert not [c for c in publisher.to(TO.deliver) if c.routing_key in RECIPIENTS]


def test_a_sender_whose_routing_facts_differ_from_its_body_is_caught_by_each_recipient(w: World) -> None:
    message = referral()
    facts = routing_facts(message)
    facts["level"] = "serious" if facts["level"] != "serious" else "especially_serious"
    wire = sealed_by_hand(w, message, RECIPIENTS, facts)
    with pytest.raises(SealingError) as caught:
        sealing(w, RECIPIENTS[0]).open(wire)
    assert caught.value.field == "routing"


def test_a_plaintext_body_is_refused_and_not_kept_where_only_sealed_ones_are_taken(w: World) -> None:
    publisher = routed(w, body_of(referral()))
    entry = quarantined(publisher)
    assert (entry["stage"], entry["field"]) == ("contract", "body")
    assert entry["body"] == b""
    for published in publisher.published:
        assert ID_NUMBER.encode() not in published.body
    (notice,) = refusals(publisher)
    assert "publish it sealed" in notice["body"]["what_to_do"]


def test_the_transitional_mode_takes_plaintext_bodies(w: World) -> None:
    publisher = routed(w, body_of(referral()), plaintext=True)
    assert sorted(c.routing_key for c in publisher.to(TO.deliver)) == sorted(RECIPIENTS)


def test_without_a_key_directory_a_sealed_body_is_refused(w: World) -> None:
    publisher = FakePublisher()
    pipeline().handle_batch(inputs(sealed_bytes(w, referral())), publisher, holding=False)
    entry = quarantined(publisher)
    assert (entry["stage"], entry["field"]) == ("contract", "sealed")


def test_an_assessment_request_is_never_sealed_and_goes_through_in_clear(w: World) -> None:
    publisher = routed(w, body_of(msg(Kind.ASSESSMENT_REQUEST, SENDER, [])))
    assert not publisher.to(TO.quarantine)
    assert [c.routing_key for c in publisher.to(TO.deliver)] == [SENDER]


@pytest.mark.parametrize("kind", sorted(ROUTING_FACTS))
def test_every_kind_that_routes_on_body_fields_needs_them_in_clear(kind: Kind) -> None:
    envelope = json.loads(body_of(msg(Kind.CASE_NOTICE, SENDER, ["bureau:330600"])))["envelope"]
    envelope["kind"] = kind.value
    with pytest.raises(ContractError) as caught:
        validate_message({"envelope": envelope, "sealed": {}})
    assert caught.value.field == "routing"


def test_a_sealed_message_with_a_clear_body_is_refused() -> None:
    plain = json.loads(body_of(msg(Kind.CASE_NOTICE, SENDER, ["bureau:330600"])))
    with pytest.raises(ContractError) as caught:
        validate_message({**plain, "sealed": {}})
    assert caught.value.field == "body"


def test_the_router_takes_a_new_directory_when_its_file_changes_and_keeps_its_own_when_it_is_bad(
    w: World, tmp_path: Path
) -> None:
    """A revocation published as a new directory file takes effect at the next batch, without a
    restart; a file that does not verify is logged and the directory held is kept."""
    public = tmp_path / "deployment.public.json"
    public.write_text(json.dumps(w.deployment.public_json()))
    path = tmp_path / "key-directory.json"
    path.write_text(json.dumps(w.document))
    bodies = Bodies.load(False, w.suite.id, str(path), str(public))
    raw = sealed_bytes(w, referral())
    assert bodies.check(raw, [Address.parse(a) for a in RECIPIENTS]) is None

    signer = w.rings[SENDER].current(datetime.now(UTC)).public.signing.kid
    revoked = w.directory.revoked(signer, datetime.now(UTC) - timedelta(minutes=1))
    newer = replace(revoked, issued_at=datetime.now(UTC))
    path.write_text(json.dumps(directory.sign(newer, w.deployment)))
    bodies.refresh()
    refused = bodies.check(raw, [Address.parse(a) for a in RECIPIENTS])
    assert refused is not None and (refused.stage, refused.field) == ("authentication", "sealed.signer")
    assert bodies.sealing is not None
    held = bodies.sealing.directory

    path.write_text("not a directory")
    bodies.refresh()
    assert bodies.sealing.directory is held  # kept


def test_a_sender_is_told_which_recipient_has_no_keys_before_anything_is_sent(w: World) -> None:
    with pytest.raises(SealingError) as caught:
        sealing(w, SENDER).wire(msg(Kind.CASE_NOTICE, SENDER, ["bureau:330100"]))  # not in the directory
    assert caught.value.field == "recipients"
    assert "bureau:330100, a recipient of this message, has no keys" in caught.value.reason
