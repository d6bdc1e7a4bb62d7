"""Each sender's share of the quarantine: how much of what one participant gets refused the router
keeps, so that a participant flooding it with bad input cannot fill rb.quarantine (bounded, shared
by everyone) or the tracker's queue behind it, and through them stall routing for the others.

A pure policy (like the settle step's actions): per authenticated user, per hour counted from that
user's first refusal of the hour,
- the first `bodies` refused inputs, up to `body_bytes` of bodies, are kept whole;
- further ones, up to `entries`, keep their entry (headers, reason, digest, size; the refusal
  notice and the decision record as usual) without the body, which the sender still has;
- past `entries`, the sender's refusals are folded: one entry (and notice) every `fold_s` says so
  and carries how many were folded since the previous one; those between are counted, not kept.

So one sender holds at most `bodies` bodies and `entries` + 3,600 / `fold_s` entries an hour. The
defaults sit well above an honest participant's mistakes (a misconfigured client sending only bad
messages at the inbox's pace is an incident, and its operators see it in the alert) and well below
the quarantine's own bounds (broker/transport/topology.py: 500,000 messages, 1 GiB).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

WINDOW_S = 3600.0
"""A sender's share is counted per hour, from its first refusal of the hour."""


class Keep(StrEnum):
    WHOLE = "whole"
    """The input is quarantined as it came."""
    ENTRY = "entry"
    """Its entry is kept without the body (x-quarantine-body: withheld)."""
    FOLD = "fold"
    """An entry without the body that also says the sender's refusals are being folded."""
    CLEAR = "clear"
    """A plaintext body where only sealed ones are taken: its entry is kept without it, so no body
    rests in clear on the broker (broker/router/bodies.py)."""
    FOLDED = "folded"
    """Counted only: no entry, no notice, no record (the next FOLD entry carries the count)."""


@dataclass(frozen=True)
class ShareLimits:
    bodies: int = 5_000
    """Refused inputs per sender and hour whose bodies are kept."""
    body_bytes: int = 64 << 20
    """Bytes of bodies per sender and hour kept (64 MiB, 1/16 of the quarantine's byte bound)."""
    entries: int = 50_000
    """Entries per sender and hour (1/10 of the quarantine's length bound)."""
    fold_s: float = 60.0
    """Past `entries`, one entry per this many seconds says how many refusals were folded."""

    @classmethod
    def per_hour(cls, bodies: int) -> ShareLimits:
        """`route --quarantine-share N`: N bodies, ten times as many entries, the default bytes."""
        return cls(bodies=bodies, entries=10 * bodies)

    def __post_init__(self) -> None:
        if min(self.bodies, self.body_bytes, self.entries) < 0 or self.fold_s <= 0:
            raise ValueError("quarantine share limits: counts must be ≥ 0 and fold_s > 0")
        if self.entries < self.bodies:
            raise ValueError("quarantine share limits: entries must be ≥ bodies")


@dataclass
class _Account:
    since: float
    entries: int = 0
    bodies: int = 0
    body_bytes: int = 0
    folded: int = 0
    """Folded since the last FOLD entry."""
    last_fold: float | None = None
    last: Keep = Keep.WHOLE


@dataclass(frozen=True)
class Admission:
    keep: Keep
    news: bool = False
    """The sender's refusals are kept less than before (its first ENTRY of the hour, each FOLD):
    worth a line in the router's log."""
    folded_before: int = 0
    """How many of the sender's refusals were folded since its previous entry (the count reaches
    the audit trail on the next entry, confirmed like any other)."""


KEEP_WHOLE = Admission(Keep.WHOLE)
"""What an input within its sender's share gets (and a router error's input, not its sender's fault)."""

WITHOUT_CLEAR_BODY = Admission(Keep.CLEAR)
"""What a plaintext input gets where only sealed bodies are taken, whatever the share."""


@dataclass
class QuarantineShares:
    limits: ShareLimits = field(default_factory=ShareLimits)
    clock: Callable[[], float] = time.monotonic
    _accounts: dict[str, _Account] = field(default_factory=dict)

    def admit(self, user_id: str | None, size: int, foldable: bool = True) -> Admission:
        """What to keep of one refused input of `user_id` (None: no validated user; those share
        one account) whose body has `size` bytes. Not `foldable`: past `entries` it still keeps
        its entry (without the body), and its notice."""
        now = self.clock()
        account = self._account(user_id or "", now)
        limits = self.limits
        if account.entries >= limits.entries and foldable:
            if account.last_fold is not None and now - account.last_fold < limits.fold_s:
                account.folded += 1
                return Admission(Keep.FOLDED)
            admission = Admission(Keep.FOLD, True, account.folded)
            account.folded, account.last_fold, account.last = 0, now, Keep.FOLD
            return admission
        account.entries += 1
        folded, account.folded = account.folded, 0  # the end of last hour's folding, if any
        if account.bodies < limits.bodies and account.body_bytes + size <= limits.body_bytes:
            account.bodies += 1
            account.body_bytes += size
            return Admission(Keep.WHOLE, False, folded)
        news, account.last = account.last is Keep.WHOLE, Keep.ENTRY
        return Admission(Keep.ENTRY, news, folded)

    def _account(self, user: str, now: float) -> _Account:
        account = self._accounts.get(user)
        if account is None or now - account.since >= WINDOW_S:
            if len(self._accounts) > 1024:
                self._forget_before(now - WINDOW_S)
            carried = account.folded if account is not None else 0
            account = self._accounts[user] = _Account(since=now, folded=carried)
        return account

    def _forget_before(self, cutoff: float) -> None:
        """Drop accounts whose hour is over and that owe no count (a new refusal opens a fresh one)."""
        for user in [u for u, a in self._accounts.items() if a.since <= cutoff and not a.folded]:
            del self._accounts[user]
