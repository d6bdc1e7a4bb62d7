"""Sealing and signing (broker/sealing): both suites round-trip; only recipients open; every kind of
tampering, a wrong suite, revoked, expired and unknown keys are refused with the field and reason."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.sealing import SealingError, check_for_router, open_message, seal_message
from broker.sealing.encoding import canonical
from broker.sealing.keys import KeyRing
from broker.sealing.sealed import Sealed, open_body, split, verify
from broker.sealing.suites import INTERNATIONAL, NATIONAL, SUITES, Suite
from broker.sealing.vectors import END, OUTSIDER, RECIPIENTS, REVOKED, SENDER, World, _flip, example, world

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=sorted(SUITES))
def w(request: pytest.FixtureRequest) -> World:
    return world(SUITES[request.param])


def sealed_referral(w: World, recipients: tuple[str, ...] = RECIPIENTS, at: datetime = NOW) -> dict[str, Any]:
    return seal_message(
        example("police_referral"),
        recipients,
        ring=w.rings[SENDER],
        directory=w.directory,
        the_suite=w.suite,
        at=at,
    )


def opened(w: World, message: object, address: str, at: datetime = NOW) -> dict[str, Any]:
    return open_message(message, ring=w.rings[address], directory=w.directory, at=at, expected=w.suite)


def refusal(call: Any) -> SealingError:
    with pytest.raises(SealingError) as caught:
        call()
    return caught.value


def test_round_trip_every_recipient_opens_the_body_and_the_clear_envelope_is_unchanged(w: World) -> None:
    message = sealed_referral(w)
    plain = example("police_referral")
    assert message["envelope"] == plain["envelope"] and "body" not in message
    assert plain["body"]["persons"][0]["id_number"] not in str(message)
    for address in RECIPIENTS:
        assert opened(w, message, address) == plain


@pytest.mark.parametrize("count", [1, 3])
def test_round_trip_for_one_and_three_recipients(w: World, count: int) -> None:
    recipients = (*RECIPIENTS, OUTSIDER)[:count]
    message = sealed_referral(w, recipients)
    assert len(message["sealed"]["recipients"]) == count
    for address in recipients:
        assert opened(w, message, address)["body"] == example("police_referral")["body"]


def test_each_message_has_a_fresh_content_key_and_nonce(w: World) -> None:
    one, two = sealed_referral(w), sealed_referral(w)
    assert one["sealed"]["ciphertext"] != two["sealed"]["ciphertext"]
    assert one["sealed"]["nonce"] != two["sealed"]["nonce"]


def test_a_non_recipient_and_the_sender_cannot_open(w: World) -> None:
    message = sealed_referral(w)
    for outsider in (OUTSIDER, SENDER):
        error = refusal(lambda o=outsider: opened(w, message, o))
        assert error.field == "sealed.recipients"
        assert "not sealed for any key of" in error.reason


def test_tampered_ciphertext_is_refused_by_the_signature_and_by_the_aead(w: World) -> None:
    message = sealed_referral(w)
    message["sealed"]["ciphertext"] = _flip(message["sealed"]["ciphertext"])
    assert refusal(lambda: opened(w, message, RECIPIENTS[0])).field == "sealed.signature"
    envelope, sealed = split(message)
    # Without the signature check, the AEAD alone still refuses it.
    assert refusal(lambda: open_body(envelope, sealed, w.rings[RECIPIENTS[0]])).field == "sealed.ciphertext"


def test_tampered_envelope_is_refused_and_the_body_does_not_open_under_it(w: World) -> None:
    message = sealed_referral(w)
    message["envelope"]["case_id"] = "ZJ-ZJ-2019-0043"
    error = refusal(lambda: opened(w, message, RECIPIENTS[0]))
    assert (error.field, error.reason) == (
        "sealed.signature",
        "does not verify: the envelope or sealed body was altered after signing",
    )
    envelope, sealed = split(message)
    assert refusal(lambda: open_body(envelope, sealed, w.rings[RECIPIENTS[0]])).field == "sealed.ciphertext"


def test_a_ciphertext_moved_under_another_message_does_not_open(w: World) -> None:
    one, two = sealed_referral(w), sealed_referral(w)
    two["envelope"]["message_id"] = "5eed0000-0000-4000-8000-0000000000ff"
    moved = copy.deepcopy(one)
    moved["envelope"] = two["envelope"]
    envelope, sealed = split(moved)
    assert refusal(lambda: open_body(envelope, sealed, w.rings[RECIPIENTS[0]])).field == "sealed.ciphertext"


def test_tampered_signature_and_tampered_recipient_list_are_refused(w: World) -> None:
    message = sealed_referral(w)
    message["sealed"]["signature"] = _flip(message["sealed"]["signature"])
    assert refusal(lambda: opened(w, message, RECIPIENTS[0])).field == "sealed.signature"
    message = sealed_referral(w)
    del message["sealed"]["recipients"][1]
    assert refusal(lambda: opened(w, message, RECIPIENTS[0])).field == "sealed.signature"


def test_a_tampered_wrapped_key_is_refused_naming_the_recipient_entry(w: World) -> None:
    message = sealed_referral(w)
    ring = w.rings[RECIPIENTS[0]]
    index = next(
        i for i, r in enumerate(message["sealed"]["recipients"]) if ring.for_encryption_kid(r["kid"])
    )
    entry = message["sealed"]["recipients"][index]
    entry["wrapped"] = _flip(entry["wrapped"])
    error = refusal(lambda: open_body(*split(message), ring))
    assert error.field == f"sealed.recipients.{index}" and "does not open" in error.reason


def test_wrong_suite_is_refused(w: World) -> None:
    other: Suite = INTERNATIONAL if w.suite is NATIONAL else NATIONAL
    message = sealed_referral(w)
    envelope, sealed = split(message)
    error = refusal(lambda: verify(envelope, sealed, w.directory, NOW, other))
    assert error.field == "sealed.suite" and f"this deployment uses {other.id}" in error.reason
    message["sealed"]["suite"] = other.id
    assert refusal(lambda: opened(w, message, RECIPIENTS[0])).field == "sealed.suite"
    message["sealed"]["suite"] = "rb-rsa-1"
    assert "not a known suite" in refusal(lambda: opened(w, message, RECIPIENTS[0])).reason


def test_sealing_for_a_recipient_of_another_suite_is_refused() -> None:
    international, national = world(INTERNATIONAL), world(NATIONAL)
    mixed = replace(
        international.directory,
        entries=(*international.directory.entries[:-1], national.directory.entries[-1]),
    )
    error = refusal(
        lambda: seal_message(
            example("police_referral"),
            [OUTSIDER],
            ring=international.rings[SENDER],
            directory=mixed,
            the_suite=INTERNATIONAL,
            at=NOW,
        )
    )
    assert error.field == "recipients" and "wrong suite" in error.reason


def test_revoked_signing_key_is_refused_for_verifying_and_for_sealing(w: World) -> None:
    first = KeyRing(SENDER, w.rings[SENDER].generations[:1])
    before = datetime(2026, 1, 15, tzinfo=UTC)
    message = seal_message(
        example("police_referral"),
        RECIPIENTS,
        ring=first,
        directory=w.before_revocation,
        the_suite=w.suite,
        at=before,
    )
    assert opened(w, message, RECIPIENTS[0], at=before)["body"]  # received before the revocation: it verifies
    error = refusal(lambda: opened(w, message, RECIPIENTS[0], at=REVOKED + timedelta(seconds=1)))
    assert error.field == "sealed.signer" and "revoked at 2026-03-01T00:00:00Z" in error.reason
    error = refusal(
        lambda: seal_message(
            example("police_referral"),
            RECIPIENTS,
            ring=first,
            directory=w.directory,
            the_suite=w.suite,
            at=NOW,
        )
    )
    assert error.field == "keyring" and "revoked" in error.reason


def test_a_revoked_recipient_key_is_refused_for_sealing_and_by_the_router(w: World) -> None:
    police_kid = w.rings[RECIPIENTS[1]].generations[0].public.encryption.kid
    revoked = w.directory.revoked(police_kid, NOW - timedelta(days=1))
    error = refusal(
        lambda: seal_message(
            example("police_referral"),
            RECIPIENTS,
            ring=w.rings[SENDER],
            directory=revoked,
            the_suite=w.suite,
            at=NOW,
        )
    )
    assert (
        error.field == "recipients"
        and f"keys of {RECIPIENTS[1]}" in error.reason
        and "revoked" in error.reason
    )
    message = sealed_referral(w)  # sealed while the key was good, checked after
    error = refusal(
        lambda: check_for_router(message, RECIPIENTS, directory=revoked, at=NOW, expected=w.suite)
    )
    assert error.field == "sealed.recipients" and RECIPIENTS[1] in error.reason


def test_expired_keys_are_refused(w: World) -> None:
    message = sealed_referral(w)
    late = END + timedelta(days=1)
    error = refusal(lambda: opened(w, message, RECIPIENTS[0], at=late))
    assert error.field == "sealed.signer" and "expired at 2036-01-01T00:00:00Z" in error.reason
    error = refusal(lambda: sealed_referral(w, at=late))
    assert error.field == "keyring" and "no key valid" in error.reason


def test_unknown_fingerprints_are_refused(w: World) -> None:
    message = sealed_referral(w)
    message["sealed"]["signer"] = w.suite.fingerprint(b"nobody's key")
    error = refusal(lambda: opened(w, message, RECIPIENTS[0]))
    assert error.field == "sealed.signer" and "unknown fingerprint" in error.reason
    message = sealed_referral(w)
    message["sealed"]["recipients"][0]["kid"] = w.suite.fingerprint(b"nobody's key")
    error = refusal(
        lambda: check_for_router(message, RECIPIENTS, directory=w.directory, at=NOW, expected=w.suite)
    )
    assert error.field == "sealed.signature"  # the signature covers the recipient list
    # Signed correctly, but for a key the router's directory does not list.
    message = sealed_referral(w, (*RECIPIENTS, OUTSIDER))
    without = replace(w.directory, entries=tuple(g for g in w.directory.entries if g.address != OUTSIDER))
    index = [r["kid"] for r in message["sealed"]["recipients"]].index(
        w.rings[OUTSIDER].generations[0].public.encryption.kid
    )
    error = refusal(
        lambda: check_for_router(message, RECIPIENTS, directory=without, at=NOW, expected=w.suite)
    )
    assert error.field == f"sealed.recipients.{index}.kid" and "unknown fingerprint" in error.reason


def test_a_signature_by_another_participant_is_refused(w: World) -> None:
    plain = example("police_referral")
    plain["envelope"]["sender"] = OUTSIDER
    signed_by_outsider = seal_message(
        plain, RECIPIENTS, ring=w.rings[OUTSIDER], directory=w.directory, the_suite=w.suite, at=NOW
    )
    signed_by_outsider["envelope"]["sender"] = SENDER  # claims to be the county bureau
    error = refusal(lambda: opened(w, signed_by_outsider, RECIPIENTS[0]))
    assert error.field == "sealed.signer" and f"is a key of {OUTSIDER}" in error.reason
    error = refusal(
        lambda: sealed_referral(w.__class__(**{**w.__dict__, "rings": {SENDER: w.rings[OUTSIDER]}}))
    )
    assert error.field == "envelope.sender"


def test_the_router_check_passes_for_its_decision_and_refuses_a_recipient_not_sealed_for(w: World) -> None:
    message = sealed_referral(w)
    check_for_router(message, RECIPIENTS, directory=w.directory, at=NOW, expected=w.suite)
    error = refusal(
        lambda: check_for_router(
            message, (*RECIPIENTS, OUTSIDER), directory=w.directory, at=NOW, expected=w.suite
        )
    )
    assert (error.field, error.reason) == (
        "sealed.recipients",
        f"not sealed for {OUTSIDER}, a recipient of the routing decision",
    )


def test_rotation_old_messages_open_with_the_old_key_new_ones_use_the_new_key(w: World) -> None:
    police = w.rings[RECIPIENTS[0]]
    old, new = (g.public.encryption.kid for g in police.generations)
    before = datetime(2026, 1, 15, tzinfo=UTC)
    early = sealed_referral(w, at=before)
    assert old in {r["kid"] for r in early["sealed"]["recipients"]}
    assert new in {r["kid"] for r in sealed_referral(w)["sealed"]["recipients"]}
    assert opened(w, early, RECIPIENTS[0], at=before)["body"]
    # Without its old generation the police office could no longer open what was sealed before.
    assert refusal(
        lambda: open_body(*split(early), KeyRing(police.address, police.generations[1:]))
    ).field == ("sealed.recipients")


def test_malformed_sealed_members_are_refused_by_name() -> None:
    good = sealed_referral(world(INTERNATIONAL))
    cases = {
        "sealed.v": lambda s: s.update(v=2),
        "sealed.nonce": lambda s: s.update(nonce="AAAA"),
        "sealed.ciphertext": lambda s: s.update(ciphertext="not base64!"),
        "sealed.recipients": lambda s: s.update(recipients=[]),
        "sealed": lambda s: s.update(extra=1),
        "sealed.signer": lambda s: s.update(signer=None),
        "sealed.recipients.1.kid": lambda s: s["recipients"].__setitem__(1, s["recipients"][0]),
    }
    for field, change in cases.items():
        sealed = copy.deepcopy(good["sealed"])
        change(sealed)
        assert refusal(lambda s=sealed: Sealed.parse(s)).field == field
    assert refusal(lambda: split({**good, "body": {}})).field == "body"


def test_canonical_json_is_rfc8785_for_the_subset_used() -> None:
    # Keys in UTF-16 code-unit order, as JCS says: the emoji's surrogates sort before U+FB01,
    # though its code point is higher.
    assert canonical({"b": [1, True, None], "a": "é\n", "\ufb01": 0, "\U0001f600": 1}) == (
        '{"a":"é\\n","b":[1,true,null],"\U0001f600":1,"\ufb01":0}'.encode()
    )
    assert refusal(lambda: canonical({"x": 1.5})).field == "$.x"
    assert refusal(lambda: canonical(2**60)).field == "$"


def test_the_bench_measures_a_round_trip_it_checked() -> None:
    from broker.sealing.bench import measure, render

    row = measure(INTERNATIONAL, 3, 600, seconds=0.0)
    assert row["recipients"] == 3 and row["body_bytes"] == 600
    assert row["verify_only_us"] > 0 and row["seal_and_sign_us"] > 0
    assert "rb-intl-1" in render([row])


def test_refusals_do_not_echo_what_a_message_field_held() -> None:
    good = sealed_referral(world(INTERNATIONAL))
    secret = "330681199001011234"
    for change in (
        lambda s: s.update(suite=secret),
        lambda s: s.update(v=secret),
        lambda s: s.update({secret: 1}),
        lambda s: s.update(signer=secret),
        lambda s: s.update(nonce=secret + "!"),
    ):
        sealed = copy.deepcopy(good["sealed"])
        change(sealed)
        error = refusal(
            lambda s=sealed: open_message(
                {"envelope": good["envelope"], "sealed": s},
                ring=world(INTERNATIONAL).rings[RECIPIENTS[0]],
                directory=world(INTERNATIONAL).directory,
                at=NOW,
                expected=INTERNATIONAL,
            )
        )
        assert secret not in str(error)
    assert secret not in str(refusal(lambda: canonical({secret: 1.5})))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_canonical_fast_path_matches_the_reference_walk(value: Any) -> None:
    from broker.sealing.encoding import _canonical

    assert canonical(value) == _canonical(value, "$").encode()
    assert json.loads(canonical(value)) == value


def test_a_hub_opens_and_re_seals_a_forward_for_the_local_bureau_it_chose(w: World) -> None:
    """The hub (here bureau:330600 standing in) opens what it received and seals the forward anew for
    the bureau it chose, signed by itself: the local bureau opens it, the original recipients cannot."""
    hub, local = OUTSIDER, RECIPIENTS[1]
    incoming = sealed_referral(w, (hub,))
    plain = opened(w, incoming, hub)
    forward = copy.deepcopy(plain)
    forward["envelope"].update(sender=hub, to=[local], forwards=plain["envelope"]["message_id"])
    forward["envelope"]["message_id"] = "5eed0000-0000-4000-8000-0000000000fe"
    resealed = seal_message(
        forward, [local], ring=w.rings[hub], directory=w.directory, the_suite=w.suite, at=NOW
    )
    assert opened(w, resealed, local) == forward
    assert refusal(lambda: opened(w, resealed, RECIPIENTS[0])).field == "sealed.recipients"


def test_the_national_suite_matches_published_known_answers() -> None:
    """RFC 8998 A.1 (SM4-GCM, tag appended as this format does) and GB/T 32905's SM3("abc")."""
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex("".join(c * 16 for c in "ABCDEFEA"))
    expected = bytes.fromhex(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC"
    )
    assert NATIONAL.encrypt(key, nonce, plaintext, aad) == expected
    assert NATIONAL.decrypt(key, nonce, expected, aad) == plaintext
    assert NATIONAL.digest(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
