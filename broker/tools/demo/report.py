"""The demo's summary: a table for people and one JSON object for scripts. Counts only: no bodies,
no names, nothing personal."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from broker.domain.routing import Rule
from broker.tools.demo.fidelity import Figure
from broker.tools.demo.fidelity import render as render_figures

COORDINATION: dict[str, tuple[Rule, ...]] = {
    "vertical": (Rule.ESCALATION, Rule.DIRECTIVE, Rule.DIRECTIVE_ALL, Rule.VERTICAL, Rule.INTRA_PROVINCE),
    "regional": (Rule.HUB_INBOUND, Rule.HUB_OUTBOUND, Rule.FORWARD),
    "interdepartmental": (Rule.DEPARTMENT,),
    "transfer": (Rule.TRANSFER, Rule.NO_RETRANSFER, Rule.DESIGNATION),
    "police": (Rule.POLICE_REFERRAL, Rule.SUPERVISION_COPY, Rule.REFERRAL_LINKED, Rule.LINKED_NOTICE),
    "replies": (Rule.REPLY, Rule.REPLY_REGIONAL),
    "deadline notices": (Rule.DEADLINE_NOTICE,),
}
"""Kinds of coordination, by the routing rules of their deliveries."""

CATEGORY_OF: dict[str, str] = {rule.value: name for name, rules in COORDINATION.items() for rule in rules}


def by_coordination(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Messages (by the rule of their first delivery) and copies per kind of coordination."""
    messages: Counter[str] = Counter()
    copies: Counter[str] = Counter()
    for record in records:
        deliveries = record.get("deliveries") or []
        if deliveries:
            messages[CATEGORY_OF.get(deliveries[0]["rule"], "other")] += 1
        for d in deliveries:
            copies[CATEGORY_OF.get(d["rule"], "other")] += 1
    names = [*COORDINATION, *sorted(set(messages) - set(COORDINATION))]
    return {n: {"messages": messages[n], "copies": copies[n]} for n in names}


@dataclass
class Summary:
    cases: int
    cases_over_threshold: int
    records_involved: int
    participants: int
    simulated_from: str
    simulated_to: str
    compression: float
    wall_s: float
    published: int
    """Messages published: by the simulated participants and the tracker's deadline notices."""
    published_by_participants: int
    published_by_tracker: int
    routed: int
    quarantined: int
    duplicates: int
    routed_by_coordination: dict[str, dict[str, int]]
    quarantined_by_stage: dict[str, int]
    obligations: int
    acknowledged: int
    """Obligations met by an answer, in time or late."""
    answered_in_time: int
    answered_late: int
    overdue: int
    """Obligations still unanswered past their due time when the simulation ended."""
    escalated: int
    """Deadline notices sent: reminders, escalations and overdue notices."""
    reminders: int
    escalations: int
    overdue_notices: int
    police_referrals: int
    filed: int
    not_filed: int
    copies_expected: int
    copies_found: int
    duplicate_copies: int
    missing: int
    unaccounted: int
    surprises: int
    unroutable: int
    dead_lettered: int
    lost: int
    bodies: dict[str, int] = field(default_factory=dict)
    """The inbox copies by body: sealed, clear (a participant's, in the transitional mode), broker
    (the broker's own notices, which name offices and times, never people)."""
    fidelity: list[Figure] = field(default_factory=list)
    """The 2019 report's figures beside the replay's (fidelity.py)."""
    notes: list[str] = field(default_factory=list)
    afterwards: list[str] = field(default_factory=list)
    """With --keep: where to look at what the run left."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def render(s: Summary) -> str:
    def row(label: str, value: object, detail: str = "") -> str:
        return f"  {label:<38}{value!s:>9}  {detail}".rstrip()

    lines = [
        "",
        f"Summary: {s.cases} cases ({s.cases_over_threshold} over the criminal threshold, "
        f"{s.records_involved:,} records), {s.participants} participants,",
        f"simulated {s.simulated_from} → {s.simulated_to} at ×{s.compression:,.0f}, in {s.wall_s:.1f} s",
        "",
        row(
            "published",
            s.published,
            f"{s.published_by_participants} by participants, "
            f"{s.published_by_tracker} deadline notices by the tracker",
        ),
        row("routed", s.routed, f"{s.copies_expected} copies"),
    ]
    for name, counts in s.routed_by_coordination.items():
        lines.append(row(f"  {name}", counts["messages"], f"{counts['copies']} copies"))
    stages = ", ".join(f"{n} {k}" for k, n in sorted(s.quarantined_by_stage.items()))
    lines += [
        row("quarantined", s.quarantined, stages),
        row("duplicates dropped by the router", s.duplicates),
        "",
        row("obligations tracked", s.obligations),
        row("answered in time", s.answered_in_time),
        row("answered late", s.answered_late),
        row("overdue at the end (never answered)", s.overdue),
        row(
            "escalated (deadline notices sent)",
            s.escalated,
            f"{s.reminders} reminders, {s.escalations} escalations, {s.overdue_notices} overdue notices",
        ),
        row("referred to police", s.police_referrals, f"{s.filed} filed, {s.not_filed} not filed"),
        "",
        row(
            "copies checked in the inboxes",
            s.copies_found,
            f"{s.copies_expected} promised, {s.duplicate_copies} duplicate",
        ),
        row(
            "sealed copies in the inboxes",
            s.bodies.get("sealed", 0),
            f"{s.bodies.get('clear', 0)} participants' bodies in clear, "
            f"{s.bodies.get('broker', 0)} notices the broker wrote",
        ),
        row("unroutable / dead-lettered", f"{s.unroutable}/{s.dead_lettered}"),
        row("lost", s.lost, f"{s.missing} copies missing, {s.unaccounted} inputs without a decision"),
    ]
    if s.fidelity:
        lines += ["", *render_figures(s.fidelity, s.cases)]
    lines += [f"  note: {n}" for n in s.notes]
    if s.afterwards:
        lines += ["", *s.afterwards]
    return "\n".join(lines)
