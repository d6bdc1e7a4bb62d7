"""What sealing costs: CPU µs per message to seal and sign, and to verify and open, for each suite, for 1
and 3 recipients, 600-byte and 64 KiB bodies. `referral-broker keys bench` prints the table.

Opening is timed for one recipient, as each recipient opens its own copy; the router's share is the
verification alone, printed apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from broker.sealing.sealed import open_body, seal, verify
from broker.sealing.suites import SUITES, Suite
from broker.sealing.vectors import OUTSIDER, RECIPIENTS, SENDER, example, world

RECIPIENT_COUNTS = (1, 3)
BODY_SIZES = (600, 64 * 1024)
AT = datetime(2026, 5, 1, tzinfo=UTC)


def _per_call_us(call: Callable[[], object], seconds: float) -> float:
    """CPU time of this process per call: on a shared machine, wall time counts the other tenants."""
    call()  # warm up: first-use imports and tables
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds or count < 3:
        call()
        count += 1
    return elapsed / count * 1e6


def measure(the_suite: Suite, recipients: int, size: int, seconds: float) -> dict[str, Any]:
    w = world(the_suite)
    envelope = example("police_referral")["envelope"]
    body = os.urandom(size)
    addresses = (*RECIPIENTS, OUTSIDER)[:recipients]
    ring = w.rings[SENDER]

    def sealing() -> Any:
        return seal(envelope, body, addresses, ring=ring, directory=w.directory, the_suite=the_suite, at=AT)

    sealed = sealing()
    reader = w.rings[addresses[0]]

    def verifying() -> object:
        return verify(envelope, sealed, w.directory, AT, the_suite)

    def opening() -> bytes:
        verify(envelope, sealed, w.directory, AT, the_suite)
        return open_body(envelope, sealed, reader)

    assert opening() == body
    return {
        "suite": the_suite.id,
        "recipients": recipients,
        "body_bytes": size,
        "seal_and_sign_us": round(_per_call_us(sealing, seconds)),
        "verify_and_open_us": round(_per_call_us(opening, seconds)),
        "verify_only_us": round(_per_call_us(verifying, seconds)),
    }


def run(seconds: float = 0.5) -> list[dict[str, Any]]:
    return [
        measure(the_suite, n, size, seconds)
        for the_suite in SUITES.values()
        for n in RECIPIENT_COUNTS
        for size in BODY_SIZES
    ]


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "suite      recipients  body      seal+sign µs  verify+open µs  verify only µs (the router)",
    ]
    for r in rows:
        body = f"{r['body_bytes'] // 1024} KiB" if r["body_bytes"] >= 1024 else f"{r['body_bytes']} B"
        lines.append(
            f"{r['suite']:<10} {r['recipients']:>10}  {body:<8} {r['seal_and_sign_us']:>13} "
            f"{r['verify_and_open_us']:>15} {r['verify_only_us']:>15}"
        )
    return "\n".join(lines)
