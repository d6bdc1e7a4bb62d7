"""Deduplication, a pure decision: a message id is routed once. What the outbox remembers of it
(`seen`) and what this batch already decided (`in_batch_digest`) say whether this input is new, a
resumed attempt, a duplicate to drop, or a reused id to quarantine."""

from __future__ import annotations

from broker.router.outcomes import Attempt, Checked, Duplicate, Quarantine
from broker.router.ports import Seen, State


def deduplicate(
    checked: Checked, seen: Seen | None, in_batch_digest: str | None
) -> Attempt | Duplicate | Quarantine:
    if seen is None and in_batch_digest is None:
        return Attempt()
    digest = seen.digest if seen is not None else in_batch_digest
    if digest != checked.digest:
        return Quarantine(
            "duplicate", "envelope.message_id", "this message id was already used for a different message"
        )
    if seen is None or in_batch_digest is not None or seen.state is State.ROUTED:
        return Duplicate(str(checked.message.envelope.message_id))
    # recorded by an earlier attempt: publish only what was not confirmed
    return Attempt(resume=seen.pending)
