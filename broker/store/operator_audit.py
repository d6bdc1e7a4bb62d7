"""Operator actions in the tracker's audit trail (table tracker_audit), where `trace ID` finds them.

The trail is the tracker's append-only table: one row per event, keyed by message id and case id.
Operators' rows have events `quarantined` (the router's verdict, with the stage, field and reason:
written by the tracker from the router's quarantine record, or by the first operator command that
sees the message if it comes first; never twice), `operator_shown`, `operator_body_shown`,
`operator_replayed` and `operator_discarded` (`dead_lettered` for rb.dead-letter), and from the
operator console `operator_login`, `operator_login_refused`, `operator_login_throttled` (refused
unchecked while the login or the address is locked), `operator_logout`, `operator_viewed`
(a case page) and `operator_denied` (a case outside the operator's province); `actor` names
who did it (the person's login and the broker user the command ran as) and `detail` what and why.
The reason an operator gives is scrubbed like every log line and cut to REASON_MAX characters.
"""

from __future__ import annotations

import getpass
import time
from datetime import datetime
from urllib.parse import unquote, urlsplit

from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Engine

from broker.logs import _scrub
from broker.store.tracker.db import write_connection
from broker.store.tracker.schema import audit
from broker.transport.quarantine import Held

REASON_MAX = 300
ACTOR_MAX = 40
"""The audit table's actor column holds 40 characters."""


def operator(amqp_url: str) -> str:
    """Who acts: the person's login and the broker user (`alice as referral-operator`)."""
    user = unquote(urlsplit(amqp_url.split(";")[0]).username or "guest")
    try:
        login: str = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return f"{login} as {user}"[:ACTOR_MAX]


def console_actor(login: str, amqp_url: str) -> str:
    """Who acts in the operator console: the operator's console login and the broker user the
    console runs as (`console:alice as referral-operator`)."""
    user = unquote(urlsplit(amqp_url.split(";")[0]).username or "guest")
    return f"console:{login} as {user}"[:ACTOR_MAX]


def reason_text(reason: str) -> str:
    return str(_scrub(" ".join(reason.split())[:REASON_MAX]))


class OperatorTrail:
    """Writes take the database's write lock up front (`write_connection`: BEGIN IMMEDIATE on
    SQLite), so an operator action beside a running tracker waits for the lock instead of failing
    with "database is locked" when its read turns into a write."""

    def __init__(self, engine: Engine, actor: str) -> None:
        self.engine = engine
        self.actor = actor

    def note_quarantined(self, held: list[Held]) -> int:
        """Write the router's verdict for each held message the trail does not have yet."""
        written = 0
        with write_connection(self.engine) as conn, conn.begin():
            for h in held:
                event = "quarantined" if h.stage != "dead-letter" else "dead_lettered"
                known = conn.execute(
                    select(audit.c.id).where(and_(audit.c.message_id == h.id, audit.c.event == event))
                ).first()
                if known is not None:
                    continue
                detail = f"{h.stage} {h.field}: {h.reason} (digest {h.digest[:16]})"
                row = self._row(h, event, detail, actor=h.facts.sender, at=_when(h.at))
                conn.execute(insert(audit).values(row))
                written += 1
        return written

    def action(self, held: Held, event: str, detail: str) -> None:
        with write_connection(self.engine) as conn, conn.begin():
            conn.execute(insert(audit).values(self._row(held, event, detail, actor=self.actor)))

    def note(self, event: str, detail: str, message_id: str = "", case_id: str = "") -> None:
        """An operator's action that concerns no held message: a login, a logout, a case looked at
        or refused (`trace CASE` shows who looked at a case)."""
        row = {
            "at": time.time(),
            "message_id": message_id,
            "by_message": None,
            "case_id": case_id,
            "obligation_id": None,
            "event": event,
            "actor": self.actor,
            "detail": reason_text(detail),
        }
        with write_connection(self.engine) as conn, conn.begin():
            conn.execute(insert(audit).values(row))

    def _row(
        self, held: Held, event: str, detail: str, actor: str | None, at: float | None = None
    ) -> dict[str, object]:
        return {
            "at": at if at is not None else time.time(),
            "message_id": held.id,
            "by_message": None,
            "case_id": held.facts.case_id or "",
            "obligation_id": None,
            "event": event,
            "actor": actor,
            "detail": detail,
        }


def _when(iso: str | None) -> float | None:
    """The router's quarantine time, when it wrote one."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None
