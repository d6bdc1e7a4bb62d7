"""The 2019 report's figures beside the replay's, each saying where the replay's figure comes from.

- records by sector and by violation: summed from the case facts the broker routed (the envelope of
  each case's first routed message that carries them);
- police referrals and joint actions: counted in the routing log (police_referral; coordination
  requests whose action is joint_action, read from the published message), plus the joint actions
  the plan keeps local because the cast has no department office at the bureau's level;
- fines and interviews: from the plan only, for the cases the broker saw opened. No message kind
  carries a penalty decision or an interview, so they are simulated locally, never routed.

Counts of the report are scaled by cases / 1,474; shares are compared as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from broker.domain import campaign_figures as figures
from broker.domain.case import CaseFacts, Sector, Violation
from broker.domain.messages import Kind, Message
from broker.tools.demo.campaign import CasePlan

ROUTED_FACTS = "case facts routed"
LOCAL = "simulated locally (no message kind)"


@dataclass(frozen=True)
class Figure:
    figure: str
    report: float
    """The report's figure: a share in percent, or a count (scaled to the replay's cases)."""
    replay: float
    unit: str
    """'%', 'cases', 'CNY' or 'count'."""
    counted: str
    """Where the replay's figure comes from."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def shown(self, value: float) -> str:
        if self.unit == "%":
            return f"{value:.1f} %"
        if self.unit == "CNY":
            return f"¥{value / 1e6:,.3f} M"
        return f"{value:,.0f}"


def routed_facts(
    plans: list[CasePlan], routed: Mapping[str, Mapping[str, Any]], book: Mapping[str, Message]
) -> dict[str, CaseFacts]:
    """Per case id, the case facts of its first routed message that carries them."""
    cases = {p.case_id for p in plans}
    out: dict[str, CaseFacts] = {}
    by_time = sorted(routed, key=lambda m: str(routed[m].get("routed_at", "")))
    for message_id in by_time:
        message = book.get(message_id)
        if message is None or message.envelope.case is None:
            continue
        case_id = message.envelope.case_id
        if case_id in cases and case_id not in out:
            out[case_id] = message.envelope.case
    return out


def joint_actions_routed(routed: Mapping[str, Mapping[str, Any]], book: Mapping[str, Message]) -> int:
    count = 0
    for message_id, record in routed.items():
        message = book.get(message_id)
        if record.get("kind") != Kind.COORDINATION_REQUEST.value or message is None:
            continue
        count += getattr(message.body, "action", None) == "joint_action"
    return count


def compare(
    plans: list[CasePlan],
    routed: Mapping[str, Mapping[str, Any]],
    book: Mapping[str, Message],
    police_referrals: int,
) -> list[Figure]:
    n = len(plans)
    facts = routed_facts(plans, routed, book)
    opened = [p for p in plans if p.case_id in facts]  # the local figures count only these
    records = sum(sum(r.counted for r in f.records) for f in facts.values()) or 1

    def share(select: Any) -> float:
        return 100 * sum(sum(r.counted for r in f.records) for f in facts.values() if select(f)) / records

    seen = f"{ROUTED_FACTS}, {len(facts)} of {n} cases"
    rows = [
        Figure(
            f"records: {sector.value.replace('_', ' ')}",
            100 * figures.SECTORS[sector].records / figures.RECORDS,
            share(lambda f, s=sector: f.sector is s),
            "%",
            seen,
        )
        for sector in figures.TOP_SECTORS
    ]
    collecting = Violation.COLLECTING_WITHOUT_CONSENT
    rows.append(
        Figure(
            "records: collecting without consent",
            100 * figures.COLLECTING.records / figures.RECORDS,
            share(lambda f: collecting in f.violations),
            "%",
            seen,
        )
    )
    rows += [
        Figure(
            f"cases: {sector.value.replace('_', ' ')}",
            figures.scaled(int(figures.SECTORS[sector].cases), n),
            sum(1 for f in facts.values() if f.sector is sector),
            "cases",
            seen,
        )
        for sector in (Sector.REAL_ESTATE, Sector.DECORATION, Sector.EDUCATION)
    ]
    rows.append(Figure("records involved", figures.scaled(figures.RECORDS, n), records, "count", seen))
    rows.append(
        Figure(
            "fines and confiscations",
            figures.scaled(figures.FINES_CNY, n),
            sum(p.fine_cny for p in opened),
            "CNY",
            LOCAL,
        )
    )
    rows.append(
        Figure(
            "police referrals",
            figures.scaled(figures.POLICE_REFERRALS, n),
            police_referrals,
            "count",
            "routed (police_referral)",
        )
    )
    routed_joint = joint_actions_routed(routed, book)
    local_joint = sum(p.joint_actions for p in opened if p.joint_with is None)
    rows.append(
        Figure(
            "joint enforcement actions",
            figures.scaled(figures.JOINT_ACTIONS, n),
            routed_joint + local_joint,
            "count",
            f"{routed_joint:,} routed (coordination_request, joint_action), {local_joint:,} simulated "
            "locally (no department office at the bureau's level in the cast)",
        )
    )
    rows.append(
        Figure(
            "administrative interviews",
            figures.scaled(figures.INTERVIEWS, n),
            sum(p.interviews for p in opened),
            "count",
            LOCAL,
        )
    )
    return rows


def render(rows: list[Figure], cases: int) -> list[str]:
    scale = "" if cases == figures.CASES else f"; its counts scaled to {cases:,} cases"
    lines = [
        f"The 2019 report ({figures.CASES:,} cases, {figures.CAMPAIGN_FROM:%d %b} - "
        f"{figures.CAMPAIGN_TO:%d %b %Y}{scale}) beside this replay:",
        f"  {'figure':<38}{'report':>12}{'replay':>12}  counted from",
    ]
    for r in rows:
        lines.append(f"  {r.figure:<38}{r.shown(r.report):>12}{r.shown(r.replay):>12}  {r.counted}")
    return lines
