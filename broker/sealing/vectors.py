"""Test vectors for other implementations: schemas/sealing/vectors.json, from fixed keys.

`python -m broker.sealing.vectors [FILE]` writes them again. Sealing draws fresh content keys and
nonces (and SM2 draws its own), so a rewrite gives other bytes that check the same way; the keys,
the directory's entries and the expected outcomes stay fixed. tests/unit/test_sealing_vectors.py
checks the committed file.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broker.domain.sealed_view import routing_facts
from broker.domain.validation import validate_message
from broker.sealing import directory, keys
from broker.sealing.encoding import parse_timestamp, timestamp
from broker.sealing.keys import DeploymentKey, Generation, KeyRing, PrivateGeneration, PublicKey
from broker.sealing.sealed import seal_message
from broker.sealing.suites import INTERNATIONAL, NATIONAL, SUITES, Suite

VECTORS_FILE = Path(__file__).resolve().parents[2] / "schemas" / "sealing" / "vectors.json"
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""n of the SM2 curve (GB/T 32918.5): a private key is a scalar in [1, n - 2]."""

START = datetime(2026, 1, 1, tzinfo=UTC)
ROTATED = datetime(2026, 2, 1, tzinfo=UTC)
REVOKED = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2036, 1, 1, tzinfo=UTC)
SENDER = "bureau:330681"
RECIPIENTS = ("police:330681", "procuratorate:330681")
"""Where the router sends the sender's police referral (tests/unit/test_sealing_recipients.py)."""
OUTSIDER = "bureau:330600"


def seeded_private(the_suite: Suite, label: str) -> bytes:
    seed = hashlib.sha256(f"rb-sealing vectors/{the_suite.id}/{label}".encode()).digest()
    if the_suite.id == NATIONAL.id:
        return (int.from_bytes(seed, "big") % (SM2_ORDER - 2) + 1).to_bytes(32, "big")
    return seed


def seeded_generation(
    the_suite: Suite, address: str, n: int, not_before: datetime, not_after: datetime = END
) -> PrivateGeneration:
    enc = seeded_private(the_suite, f"{address}/{n}/encryption")
    sig = seeded_private(the_suite, f"{address}/{n}/signing")
    enc_public, sig_public = the_suite.encryption_public(enc), the_suite.signing_public(sig)
    public = Generation(
        address,
        the_suite,
        PublicKey(the_suite.fingerprint(enc_public), enc_public),
        PublicKey(the_suite.fingerprint(sig_public), sig_public),
        not_before,
        not_after,
    )
    return PrivateGeneration(public, enc, sig)


def seeded_deployment(the_suite: Suite) -> DeploymentKey:
    private = seeded_private(the_suite, "deployment")
    public = the_suite.signing_public(private)
    return DeploymentKey(the_suite, PublicKey(the_suite.fingerprint(public), public), private)


@dataclass(frozen=True)
class World:
    """A deployment with fixed keys: the sender and the police rotated once, and the sender's first
    generation revoked at REVOKED."""

    suite: Suite
    deployment: DeploymentKey
    rings: dict[str, KeyRing]
    before_revocation: directory.KeyDirectory
    directory: directory.KeyDirectory
    document: dict[str, Any]


def world(the_suite: Suite) -> World:
    rings = {
        SENDER: KeyRing(
            SENDER,
            (
                seeded_generation(the_suite, SENDER, 0, START),
                seeded_generation(the_suite, SENDER, 1, ROTATED),
            ),
        ),
        RECIPIENTS[0]: KeyRing(
            RECIPIENTS[0],
            (
                seeded_generation(the_suite, RECIPIENTS[0], 0, START),
                seeded_generation(the_suite, RECIPIENTS[0], 1, ROTATED),
            ),
        ),
        RECIPIENTS[1]: KeyRing(RECIPIENTS[1], (seeded_generation(the_suite, RECIPIENTS[1], 0, START),)),
        OUTSIDER: KeyRing(OUTSIDER, (seeded_generation(the_suite, OUTSIDER, 0, START),)),
    }
    deployment = seeded_deployment(the_suite)
    generations = [g for ring in rings.values() for g in ring.public()]
    before, _ = directory.build(generations, deployment, START)
    after = replace(
        before.revoked(rings[SENDER].generations[0].public.signing.kid, REVOKED), issued_at=REVOKED
    )
    return World(the_suite, deployment, rings, before, after, directory.sign(after, deployment))


def example(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{kind}.json").read_text(encoding="utf-8"))
    return loaded


def _flip(text: str) -> str:
    """The base64url text with one bit of its first byte changed."""
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[0] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def suite_vectors(the_suite: Suite) -> dict[str, Any]:
    w = world(the_suite)
    referral = example("police_referral")
    routing = routing_facts(validate_message(referral))  # what the router routes a sealed referral on
    sealed_at = datetime(2026, 5, 1, tzinfo=UTC)
    verify_at = timestamp(datetime(2026, 6, 1, tzinfo=UTC))
    current = seal_message(
        referral,
        RECIPIENTS,
        ring=w.rings[SENDER],
        directory=w.directory,
        the_suite=the_suite,
        at=sealed_at,
        routing=routing,
    )
    early_at = datetime(2026, 1, 15, tzinfo=UTC)
    early = seal_message(
        referral,
        RECIPIENTS,
        ring=KeyRing(SENDER, w.rings[SENDER].generations[:1]),
        directory=w.before_revocation,
        the_suite=the_suite,
        at=early_at,
        routing=routing,
    )

    def altered(change: Any) -> dict[str, Any]:
        message = copy.deepcopy(current)
        change(message)
        return message

    other = INTERNATIONAL if the_suite.id == NATIONAL.id else NATIONAL
    unknown = the_suite.fingerprint(b"a key nobody has")
    refused = [
        (
            "tampered ciphertext",
            altered(lambda m: m["sealed"].update(ciphertext=_flip(m["sealed"]["ciphertext"]))),
            verify_at,
            "sealed.signature",
        ),
        (
            "tampered envelope",
            altered(lambda m: m["envelope"].update(case_id="ZJ-ZJ-2019-0043")),
            verify_at,
            "sealed.signature",
        ),
        (
            "tampered routing facts",
            altered(lambda m: m["routing"].update(level="serious")),
            verify_at,
            "sealed.signature",
        ),
        (
            "tampered signature",
            altered(lambda m: m["sealed"].update(signature=_flip(m["sealed"]["signature"]))),
            verify_at,
            "sealed.signature",
        ),
        ("wrong suite", altered(lambda m: m["sealed"].update(suite=other.id)), verify_at, "sealed.suite"),
        (
            "unknown signer fingerprint",
            altered(lambda m: m["sealed"].update(signer=unknown)),
            verify_at,
            "sealed.signer",
        ),
        ("revoked signer", early, verify_at, "sealed.signer"),
        ("expired signer", current, timestamp(END + timedelta(days=1)), "sealed.signer"),
    ]
    return {
        "deployment_public": w.deployment.public_json(),
        "directory": w.document,
        "keyrings": {address: keys.keyring_json(ring) for address, ring in w.rings.items()},
        "valid": [
            {
                "name": "police referral to the police office and the procuratorate, current keys",
                "message": current,
                "verify_at": verify_at,
                "plaintext": referral,
                "recipients": list(RECIPIENTS),
                "not_recipients": [OUTSIDER, SENDER],
            },
            {
                "name": "sealed before rotation and revocation: opens with the recipients' first keys",
                "message": early,
                "verify_at": timestamp(early_at + timedelta(hours=1)),
                "plaintext": referral,
                "recipients": list(RECIPIENTS),
                "not_recipients": [OUTSIDER],
            },
        ],
        "refused": [
            {"name": name, "message": message, "verify_at": at, "refused_field": field}
            for name, message, at, field in refused
        ],
    }


def vectors() -> dict[str, Any]:
    return {
        "format": "rb-sealing-vectors/1",
        "description": "schemas/sealing/FORMAT.md. Every valid message verifies against the directory at "
        "verify_at (the directory itself verifies with deployment_public) and opens for each of "
        "`recipients` with its key ring to `plaintext`'s body; no other key ring opens it. Every refused "
        "message fails verification at verify_at; refused_field is where this implementation reports it.",
        "suites": {name: suite_vectors(the_suite) for name, the_suite in SUITES.items()},
    }


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else VECTORS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


def parse_time(text: str) -> datetime:
    return parse_timestamp(text, "verify_at")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
