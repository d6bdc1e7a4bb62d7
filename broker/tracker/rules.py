"""The one deadline rule table: which routed messages create obligations, who owes what to whom, by
when, on what basis, and which answer closes them. Pure: no database, no broker.

Who owes what (the parties come from the decision record's deliveries):

- *Addressees* owe: every recipient that must act on a message, i.e. a named addressee
  (vertical.addressed, intra_province.addressed, interdepartmental.addressed, transfer.competent),
  the superior of an escalation, the subordinates of a directive, the police office of a referral,
  the common superior of a refused re-transfer (transfer.no_retransfer: of the transferor and the
  transferee, broker/domain/disputes.py), a provincial hub that
  received a cross-province message for its province (regional.hub_inbound) and the bureau the hub
  forwarded it to (regional.forward). Copies owe nothing: regional.hub_outbound_copy,
  police.supervision_copy, reply.regional_origin, and deadline notices.
- When a hub forwards, both owe, each to its own sender and each from the time it received the
  message: the bureau it forwarded to owes the hub, and the hub, as the single liaison office (the
  EU consumer-protection network works the same way), still owes the origin. The forward itself
  proves the hub's receipt; the answer of the bureau it forwarded to, which the router also delivers
  to the origin (reply.regional_origin), closes the hub's obligation as well (store.py).
- A granted extension moves the due time of the requester's obligation; when the one who grants it
  is the origin of a forwarded request, it moves the hub's obligation too.
- The decision on a police transfer (Decree 310 Art. 5) is owed by the bureau *handling* the case:
  the sender of a case notice, assistance or coordination request, but the bureau that receives a
  case transfer (or the hub's forward of it), an escalation or an addressed directive. A bureau that
  hands a case away (transfer, escalation) hands the duty with it (store.py closes its obligation).
  It closes with a police_referral or a transfer_declined record (不予移送) for the case.
- A 督办 (a directive of type directive about a case) obliges each supervised bureau to report the
  results to the supervising bureau (supervision_report); guidance (指导) obliges nothing but receipt.
- Late police answer to the procuratorate at their level (escalated_to, notices.py), not to a bureau.

Defaults (DOMAIN.md "Deadlines"); each says whether it is law or our policy. A period does not count
its first day and ends at the end of its last day, Beijing time (calendar.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from broker.domain import kinds
from broker.domain.address import Address, Party
from broker.domain.messages import Kind
from broker.domain.routing import Rule
from broker.domain.threshold import assess
from broker.tracker.calendar import Unit, WorkCalendar
from broker.tracker.notices import Supervisor
from broker.tracker.record import Routed

SAMR_RULES = (
    "SAMR administrative penalty procedure rules (市场监督管理行政处罚程序规定, 2018, rev. 2021/2022)"
)
ARTICLE_UNCONFIRMED = "article number not confirmed: no stored text of it was found"
ARTICLES_UNCONFIRMED = "not confirmed: no stored text of them was found"
"""How a basis says that no stored legal text confirmed the article it cites: the figure is then our
reading and, like every period here, configurable (OVERRIDABLE: amount, unit)."""

SUPERVISION_REPORT_DAYS = 90
"""Default period for a 督办's results report (rule supervision_report). Broker policy: no stored legal
text gives one, so it borrows the SAMR procedure rules' 90 days from filing to a decision; a
deployment sets its own (RB_TRACKER_RULES: {"rules": {"supervision_report": {"amount": N}}}) or the
period its supervising bureaus write in their 督办 notices."""

OBLIGATION_NAMESPACE = uuid.UUID("5b1f3c9e-2d4a-4e8b-9a51-7c0e6f1d2b34")
"""Obligation ids are uuid5 of the rule and its key, so the same record always yields the same ids."""

DEFAULT_REMINDER_FRACTION = 0.8
"""The reminder goes out once this share of the time from start to due has passed."""

ACTING_RULES = frozenset(
    {
        Rule.VERTICAL,
        Rule.INTRA_PROVINCE,
        Rule.HUB_INBOUND,
        Rule.FORWARD,
        Rule.DEPARTMENT,
        Rule.TRANSFER,
        Rule.NO_RETRANSFER,
        Rule.DESIGNATION_REQUEST,
        Rule.ESCALATION,
        Rule.DIRECTIVE,
        Rule.DIRECTIVE_ALL,
        Rule.POLICE_REFERRAL,
    }
)
"""Deliveries whose recipient must act on the message; every other delivery is a copy."""

CASE_BEARING = kinds.CASE_BEARING
"""Kinds that carry case facts (a directive only sometimes: only then is it case-bearing)."""


class Owes(StrEnum):
    ADDRESSEES = "addressees"
    """Each recipient of the message that must act on it (ACTING_RULES)."""
    ORIGINAL_SENDER = "original_sender"
    """The sender of what this message answers (its reply.correlation delivery)."""
    SENDER = "sender"
    """The sender of the message itself."""
    DESIGNATING_SUPERIOR = "designating_superior"
    """The common superior a disputed transfer or a jurisdiction request went to."""
    CASE_HANDLER = "case_handler"
    """The bureau handling the case once the message is routed (case_handlers)."""


class OwedTo(StrEnum):
    SENDER = "sender"
    SAME_LEVEL_POLICE = "same_level_police"
    """The police office at the owing bureau's division code, where its criminal referral goes."""
    SAME_LEVEL_PROCURATORATE = "same_level_procuratorate"
    """The procuratorate at the owing bureau's division code (立案监督, Decree 310 Art. 9)."""


class Condition(StrEnum):
    ALWAYS = "always"
    CASE_BEARING = "case_bearing"
    """The message carries case facts."""
    FILED = "filed"
    NOT_FILED = "not_filed"
    THRESHOLD_REACHED = "threshold_reached"
    """Case facts reach the criminal threshold, the sender is a bureau and it is not a forward."""
    SUPERVISED = "supervised"
    """A 督办: a directive of type directive about a case (it carries the case facts)."""


@dataclass(frozen=True)
class DeadlineRule:
    id: str
    what: str
    """What is owed, as deadline notices name it (at most 60 characters)."""
    kinds: frozenset[Kind]
    """Kinds of message that create the obligation."""
    owed_by: Owes
    owed_to: OwedTo
    amount: int
    unit: Unit
    basis: str
    """The rule and its legal basis, or "policy" when it is ours (at most 500 characters)."""
    condition: Condition = Condition.ALWAYS
    closed_by: frozenset[Kind] = frozenset()
    """Answers (in_reply_to the message, sent by the one who owes) that close it; empty: any answer."""
    closed_by_forward: bool = False
    """A hub's forward of the message closes it (the forward proves receipt)."""
    closed_by_case_referral: bool = False
    """Closed by a police referral for the same case id, not by an answer; at the time the referral
    says the bureau head approved it, when that is known."""
    closed_by_itself: bool = False
    """Only known once done: the message that creates it also closes it (on time or late)."""
    from_approval: bool = False
    """Counted from the approval time a police referral states, not from its routing."""
    roll_to_working_day: bool = True
    """Calendar-day periods only: a last day that is not a working day moves to the next one."""
    extendable: bool = False
    """A granted extension_decision moves the due time."""
    extended_by_notice: bool = False
    """The one who owes extends by telling (告知) before expiry: its extension_request itself moves the
    due time by the days it names; an extension_decision changes nothing."""
    chased: bool = True
    """False for an optional window: tracked and traced, never reminded, escalated or counted overdue."""
    escalated_to: Supervisor = Supervisor.SUPERIOR_BUREAU
    """Who a late obligation's escalation goes to (notices.py): the procuratorate for the police."""
    enabled: bool = True

    @property
    def per_case(self) -> bool:
        """One obligation per case and party, whichever message showed it first."""
        return self.closed_by_case_referral


def _case_bearing_except_referral() -> frozenset[Kind]:
    return CASE_BEARING - {Kind.POLICE_REFERRAL}


DEFAULT_RULES: tuple[DeadlineRule, ...] = (
    DeadlineRule(
        id="receipt",
        what="receipt",
        kinds=_case_bearing_except_referral(),
        condition=Condition.CASE_BEARING,
        owed_by=Owes.ADDRESSEES,
        owed_to=OwedTo.SENDER,
        amount=1,
        unit=Unit.WORKING_DAYS,
        closed_by_forward=True,
        basis="Broker policy, not law: acknowledge receipt (签收) of a case-bearing message within 1 working "
        "day; any answer, or a hub's forward, counts as receipt.",
    ),
    DeadlineRule(
        id="assistance_reply",
        what="assistance_reply",
        kinds=frozenset({Kind.ASSISTANCE_REQUEST}),
        owed_by=Owes.ADDRESSEES,
        owed_to=OwedTo.SENDER,
        amount=15,
        unit=Unit.WORKING_DAYS,
        closed_by=frozenset({Kind.ASSISTANCE_REPLY, Kind.COMPLETION_ACK}),
        extendable=True,
        extended_by_notice=True,
        basis=f"{SAMR_RULES}, assisted investigation (协助调查; {ARTICLE_UNCONFIRMED}): complete within 15 "
        "working days of receiving the request; needing longer, tell the requester (告知) before expiry: the "
        "extension_request is that notice and moves the due time. Period and notice as a stored summary of "
        "the rules states them. Closed by a complete assistance_reply or a completion_ack.",
    ),
    DeadlineRule(
        id="transfer_dispatch",
        what="transfer_dispatch",
        kinds=frozenset({Kind.POLICE_REFERRAL}),
        owed_by=Owes.SENDER,
        owed_to=OwedTo.SAME_LEVEL_POLICE,
        amount=24,
        unit=Unit.HOURS,
        from_approval=True,
        closed_by_itself=True,
        basis="State Council Decree 310, Art. 5: an approved transfer is sent to the police at the same "
        "level within 24 hours of the approval. Known only when the referral arrives, so recorded as "
        "closed, on time or late, never chased.",
    ),
    DeadlineRule(
        id="police_receipt",
        what="police_receipt",
        kinds=frozenset({Kind.POLICE_REFERRAL}),
        owed_by=Owes.ADDRESSEES,
        owed_to=OwedTo.SENDER,
        amount=1,
        unit=Unit.WORKING_DAYS,
        escalated_to=Supervisor.PROCURATORATE,
        basis="State Council Decree 310 (2020), Art. 7: the police sign the receipt of a transfer; an office "
        "not competent passes it within 24 hours to the competent one and tells the bureau. 1 working day "
        "is broker policy. Any answer counts as receipt. Late: escalated to the procuratorate's 立案监督 "
        "(Art. 9, Art. 17), not to a market bureau.",
    ),
    DeadlineRule(
        id="filing_decision",
        what="filing_decision",
        kinds=frozenset({Kind.POLICE_REFERRAL}),
        owed_by=Owes.ADDRESSEES,
        owed_to=OwedTo.SENDER,
        amount=3,
        unit=Unit.CALENDAR_DAYS,
        closed_by=frozenset({Kind.FILING_DECISION}),
        escalated_to=Supervisor.PROCURATORATE,
        basis="State Council Decree 310 (2020), Art. 8: the police decide whether to file (立案) within 3 "
        "days of accepting the transfer, notify the bureau in writing and copy the procuratorate (the "
        "router sends it the copy). Late: escalated to the procuratorate's 立案监督 (Art. 9, Art. 17), not "
        "to a market bureau.",
    ),
    DeadlineRule(
        id="reconsideration_window",
        what="reconsideration_request",
        kinds=frozenset({Kind.FILING_DECISION}),
        condition=Condition.NOT_FILED,
        owed_by=Owes.ORIGINAL_SENDER,
        owed_to=OwedTo.SENDER,
        amount=3,
        unit=Unit.CALENDAR_DAYS,
        closed_by=frozenset({Kind.RECONSIDERATION_REQUEST}),
        chased=False,
        basis="State Council Decree 310, Art. 9: a bureau may ask the police to reconsider a decision "
        "not to file within 3 days of the notice. Optional: tracked as a window, never chased.",
    ),
    DeadlineRule(
        id="exhibits_handover",
        what="exhibits_handover",
        kinds=frozenset({Kind.FILING_DECISION}),
        condition=Condition.FILED,
        owed_by=Owes.ORIGINAL_SENDER,
        owed_to=OwedTo.SENDER,
        amount=3,
        unit=Unit.CALENDAR_DAYS,
        closed_by=frozenset({Kind.COMPLETION_ACK}),
        basis="State Council Decree 310 (2020), Art. 12: after the police file the case, the bureau hands "
        "over the exhibits and case materials within 3 days of the filing notice. Closed by the bureau's "
        "completion_ack to the filing decision.",
    ),
    DeadlineRule(
        id="reconsideration_decision",
        what="reconsideration_decision",
        kinds=frozenset({Kind.RECONSIDERATION_REQUEST}),
        owed_by=Owes.ORIGINAL_SENDER,
        owed_to=OwedTo.SENDER,
        amount=3,
        unit=Unit.CALENDAR_DAYS,
        closed_by=frozenset({Kind.RECONSIDERATION_DECISION}),
        escalated_to=Supervisor.PROCURATORATE,
        basis="State Council Decree 310 (2020), Art. 9: the police decide on a bureau's request for "
        "reconsideration within 3 days of receiving it and notify the bureau in writing. Late: escalated "
        "to the procuratorate's 立案监督 (Art. 9: the police accept it), not to a market bureau.",
    ),
    DeadlineRule(
        id="supervision_suggestion_window",
        what="supervision_suggestion",
        kinds=frozenset({Kind.RECONSIDERATION_DECISION}),
        owed_by=Owes.ORIGINAL_SENDER,
        owed_to=OwedTo.SAME_LEVEL_PROCURATORATE,
        amount=3,
        unit=Unit.CALENDAR_DAYS,
        closed_by=frozenset({Kind.SUPERVISION_SUGGESTION}),
        chased=False,
        basis="State Council Decree 310 (2020), Art. 9: a bureau still disagreeing after the "
        "reconsideration decision may suggest 立案监督 to the procuratorate within 3 days of it. Optional: "
        "a window, never chased; it opens after any reconsideration decision.",
    ),
    DeadlineRule(
        id="designation",
        what="jurisdiction_designation",
        kinds=frozenset({Kind.CASE_TRANSFER, Kind.JURISDICTION_REQUEST}),
        owed_by=Owes.DESIGNATING_SUPERIOR,
        owed_to=OwedTo.SENDER,
        amount=7,
        unit=Unit.WORKING_DAYS,
        closed_by=frozenset({Kind.JURISDICTION_DESIGNATION}),
        basis=f"{SAMR_RULES}, jurisdiction (管辖; Art. 13, 14 and 16 as recalled, {ARTICLES_UNCONFIRMED}): "
        "bureaus that dispute jurisdiction have 7 working days to agree, then report to their common "
        "superior; a bureau that received a case by transfer and disputes it reports to it and does not "
        "transfer it on; the superior designates within 7 working days of the report.",
    ),
    DeadlineRule(
        id="filing_check",
        what="filing_check",
        kinds=frozenset({Kind.CASE_TRANSFER, Kind.FILE_RETURN}),
        owed_by=Owes.CASE_HANDLER,
        owed_to=OwedTo.SENDER,
        amount=15,
        unit=Unit.WORKING_DAYS,
        closed_by=frozenset({Kind.COMPLETION_ACK}),
        basis=f"{SAMR_RULES}, Art. 18 (confirmed against a stored text of it): check a clue or a case "
        "another department transferred within 15 working days of receiving the material and decide "
        "whether to file (立案); 15 more with the head's approval (not tracked). Also a case the police "
        "pass back (Administrative Penalty Law 2021 Art. 27, confirmed; Decree 310 Art. 13). Closed by "
        "the bureau's completion_ack.",
    ),
    DeadlineRule(
        id="coordination_reply",
        what="coordination_reply",
        kinds=frozenset({Kind.COORDINATION_REQUEST}),
        owed_by=Owes.ADDRESSEES,
        owed_to=OwedTo.SENDER,
        amount=10,
        unit=Unit.WORKING_DAYS,
        closed_by=frozenset({Kind.COORDINATION_REPLY, Kind.COMPLETION_ACK}),
        basis="Broker policy, not law: answer an interdepartmental coordination request within 10 working "
        "days.",
    ),
    DeadlineRule(
        id="supervision_report",
        what="supervision_report",
        kinds=frozenset({Kind.DIRECTIVE}),
        condition=Condition.SUPERVISED,
        owed_by=Owes.ADDRESSEES,
        owed_to=OwedTo.SENDER,
        amount=SUPERVISION_REPORT_DAYS,
        unit=Unit.CALENDAR_DAYS,
        closed_by=frozenset({Kind.SUPERVISION_REPORT}),
        basis="督办: a superior bureau's supervision of a major case puts each supervised bureau on a clock "
        "to report the results (a supervision_report answering the directive). No stored legal text giving "
        "the period was found: 90 days, the SAMR procedure rules' period from filing to decision (as a "
        "stored summary states it; article unconfirmed), is broker policy, configurable.",
    ),
    DeadlineRule(
        id="transfer_decision",
        what="transfer_decision",
        kinds=_case_bearing_except_referral(),
        condition=Condition.THRESHOLD_REACHED,
        owed_by=Owes.CASE_HANDLER,
        owed_to=OwedTo.SAME_LEVEL_POLICE,
        amount=3,
        unit=Unit.CALENDAR_DAYS,
        closed_by_case_referral=True,
        basis="State Council Decree 310, Art. 5: once a case reaches the criminal threshold "
        "(法释〔2017〕10号 Art. 5/6), the head of the bureau handling it decides on the transfer within "
        "3 days of receiving the report (counted here from routing). Closed by a police_referral or a "
        "transfer_declined record for the case; a bureau that hands the case away hands the duty with it.",
    ),
)


OVERRIDABLE = frozenset(
    {"amount", "unit", "roll_to_working_day", "chased", "enabled", "extended_by_notice", "basis"}
)
"""What a policy file may change in a rule."""


@dataclass(frozen=True)
class NewObligation:
    id: str
    rule: str
    what: str
    regarding: str
    """The message the obligation arises from."""
    case_id: str
    owed_by: Address
    owed_to: Address
    start_at: datetime
    due_at: datetime
    reminder_at: datetime
    chased: bool
    basis: str


@dataclass(frozen=True)
class Policy:
    rules: tuple[DeadlineRule, ...] = DEFAULT_RULES
    reminder_fraction: float = DEFAULT_REMINDER_FRACTION
    _by_id: Mapping[str, DeadlineRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.reminder_fraction < 1:
            raise ValueError("reminder_fraction: between 0 and 1")
        by_id = {r.id: r for r in self.rules}
        if len(by_id) != len(self.rules):
            raise ValueError("rules: two rules share an id")
        for r in self.rules:
            if r.amount < 0 or len(r.what) > 60 or len(r.basis) > 500:
                raise ValueError(f"rule {r.id}: amount >= 0, what <= 60 and basis <= 500 characters")
        object.__setattr__(self, "_by_id", by_id)

    def rule(self, rule_id: str) -> DeadlineRule:
        return self._by_id[rule_id]

    def obligations_for(self, record: Routed, calendar: WorkCalendar) -> list[NewObligation]:
        """The obligations a routed message creates (before any answer is known)."""
        out: list[NewObligation] = []
        for rule in self.rules:
            if not rule.enabled or record.kind not in rule.kinds or not _condition(rule.condition, record):
                continue
            start = record.approved_at if rule.from_approval else record.routed_at
            if start is None:
                continue
            for owed_by in _owed_by(rule.owed_by, record):
                owed_to = _owed_to(rule.owed_to, record, owed_by)
                if owed_by == owed_to:
                    continue
                key = f"{record.case_id}|{owed_by}" if rule.per_case else f"{record.message_id}|{owed_by}"
                due = self.due_at(rule, start, 0, calendar)
                out.append(
                    NewObligation(
                        id=obligation_id(rule.id, key),
                        rule=rule.id,
                        what=rule.what,
                        regarding=record.message_id,
                        case_id=record.case_id,
                        owed_by=owed_by,
                        owed_to=owed_to,
                        start_at=start,
                        due_at=due,
                        reminder_at=self.reminder_at(start, due),
                        chased=rule.chased,
                        basis=rule.basis,
                    )
                )
        return out

    def due_at(
        self, rule: DeadlineRule, start: datetime, extra_days: int, calendar: WorkCalendar
    ) -> datetime:
        """Due time of an obligation of this rule started at ``start``, with granted extra days (only
        extendable rules get them, and those count working days)."""
        return calendar.deadline(start, rule.amount + extra_days, rule.unit, rule.roll_to_working_day)

    def reminder_at(self, start: datetime, due: datetime) -> datetime:
        return start + (due - start) * self.reminder_fraction

    def closes(self, rule: DeadlineRule, answer: Routed) -> bool:
        """Whether this answer's kind closes an obligation of this rule (who and what it answers is
        checked by the store)."""
        if rule.closed_by_case_referral or rule.closed_by_itself or answer.kind is Kind.DEADLINE_NOTICE:
            return False
        if rule.closed_by and answer.kind not in rule.closed_by:
            return False
        return not (
            answer.kind is Kind.ASSISTANCE_REPLY
            and rule.id == "assistance_reply"
            and answer.complete is False
        )

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Defaults with overrides from a JSON file, e.g. ``{"reminder_fraction": 0.75, "rules":
        {"coordination_reply": {"amount": 5}, "receipt": {"enabled": false}}}``. A rule takes amount,
        unit, roll_to_working_day, chased, enabled, extended_by_notice and basis."""
        return cls.from_overrides(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_overrides(cls, data: Mapping[str, Any]) -> Policy:
        unknown = set(data) - {"reminder_fraction", "rules"}
        if unknown:
            raise ValueError(f"deadline policy: unknown keys {sorted(unknown)}")
        overrides: Mapping[str, Mapping[str, Any]] = data.get("rules", {})
        known = {r.id for r in DEFAULT_RULES}
        if set(overrides) - known:
            raise ValueError(f"deadline policy: unknown rules {sorted(set(overrides) - known)}")
        rules = []
        for rule in DEFAULT_RULES:
            change = dict(overrides.get(rule.id, {}))
            allowed = OVERRIDABLE
            if set(change) - allowed:
                raise ValueError(f"deadline policy: rule {rule.id} takes only {sorted(allowed)}")
            if "unit" in change:
                change["unit"] = Unit(change["unit"])
            rules.append(replace(rule, **change))
        return cls(tuple(rules), float(data.get("reminder_fraction", DEFAULT_REMINDER_FRACTION)))


def obligation_id(rule_id: str, key: str) -> str:
    return str(uuid.uuid5(OBLIGATION_NAMESPACE, f"{rule_id}|{key}"))


def _condition(condition: Condition, record: Routed) -> bool:
    if condition is Condition.ALWAYS:
        return True
    if condition is Condition.CASE_BEARING:
        return record.case is not None
    if condition is Condition.FILED:
        return record.filing == "filed"
    if condition is Condition.NOT_FILED:
        return record.filing == "not_filed"
    if condition is Condition.SUPERVISED:
        return record.directive_type == "directive" and record.case is not None
    return record.case is not None and record.sender.is_bureau and assess(record.case).reached


HANDED_AWAY_BY = frozenset({Rule.TRANSFER, Rule.HUB_INBOUND, Rule.ESCALATION})
"""Deliveries of a case_transfer or escalation by which the sender hands its case to another bureau."""


def case_handlers(record: Routed) -> tuple[Address, ...]:
    """The bureaus handling the case once this message is routed, who owe the transfer decision."""
    if record.kind is Kind.CASE_TRANSFER:
        if record.delivered_by(Rule.NO_RETRANSFER):
            return (record.sender,)  # kept until the common superior designates
        return record.delivered_by(Rule.TRANSFER, Rule.FORWARD)  # a hub only passes it on
    if record.kind is Kind.ESCALATION:
        return record.delivered_by(Rule.ESCALATION)
    if record.kind is Kind.FILE_RETURN:
        return record.delivered_by(Rule.REPLY)  # the police pass the case back to the bureau
    if record.kind is Kind.DIRECTIVE:
        return record.delivered_by(Rule.DIRECTIVE)  # the superior directs; the subordinate handles
    if record.forwards:
        return ()  # a forwarded notice or request: its origin still handles the case
    return (record.sender,)


def _owed_by(owes: Owes, record: Routed) -> Iterable[Address]:
    if owes is Owes.ADDRESSEES:
        return record.delivered_by(*ACTING_RULES)
    if owes is Owes.ORIGINAL_SENDER:
        return record.delivered_by(Rule.REPLY)
    if owes is Owes.CASE_HANDLER:
        return case_handlers(record)
    if owes is Owes.DESIGNATING_SUPERIOR:
        return record.delivered_by(Rule.NO_RETRANSFER, Rule.DESIGNATION_REQUEST)
    return (record.sender,)


def _owed_to(owed_to: OwedTo, record: Routed, owed_by: Address) -> Address:
    if owed_to is OwedTo.SAME_LEVEL_POLICE:
        return Address(Party.POLICE, owed_by.code)
    if owed_to is OwedTo.SAME_LEVEL_PROCURATORATE:
        return Address(Party.PROCURATORATE, owed_by.code)
    return record.sender
