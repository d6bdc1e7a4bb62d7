"""Turns steps into real messages and publishes them, each through its participant's own client.

Bodies hold invented people (names, phone numbers), as real ones would; they are never printed.
Envelopes carry the simulated time.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from broker.domain.address import Address, Party
from broker.domain.factory import new_message
from broker.domain.messages import Handling, Kind, Message, PoliceReferral, Scope
from broker.domain.referrals import referral_body
from broker.domain.routing import Rule
from broker.tools import police_example
from broker.tools.demo.campaign import BadKind, CasePlan
from broker.tools.demo.cast import Cast
from broker.tools.demo.clock import ScaledClock
from broker.tools.demo.desk import Desks
from broker.tools.demo.steps import Answer, CaseAction, CaseStep, Forward, PoliceAnswer, Step
from broker.transport.client import Delivered

SURNAMES = "王李张刘陈杨赵黄周吴"

ANSWER_BODIES: dict[Kind, dict[str, Any]] = {
    Kind.RECEIPT_ACK: {"summary": "Received (签收)."},
    Kind.ASSISTANCE_REPLY: {"findings": "Buyer identified; payment records attached.", "complete": True},
    Kind.COORDINATION_REPLY: {"answer": "Joint inspection done; numbers suspended."},
    Kind.COMPLETION_ACK: {"summary": "Exhibits and case materials handed over to the police."},
    Kind.RECONSIDERATION_REQUEST: {"reason": "New bank records show the sales; please reconsider."},
    Kind.SUPERVISION_REPORT: {"results": "Case closed: fined and the bought lists confiscated."},
}

COORDINATION: dict[Party, tuple[str, str]] = {
    Party.TELECOM: ("takedown", "Suspend the numbers used for unsolicited messages."),
    Party.CYBERSPACE: ("takedown", "Take down the app's unlawful data collection."),
    Party.HOUSING: ("information", "Sales and rental filings of the agency."),
    Party.EDUCATION: ("information", "Licence and enrolment records of the training company."),
    Party.FINANCE: ("information", "Account and licence information of the company."),
    Party.POSTAL: ("information", "Waybill handling rules of the delivery outlets."),
    Party.TOURISM: ("information", "Registration records of the travel agency and its lodgings."),
}
"""What a case asks the department for (campaign.COORDINATION_SHARE of the cases that can)."""

JOINT_ACTION: dict[Party, str] = {
    Party.TELECOM: "Joint inspection of the company's SMS platform and call centre.",
    Party.CYBERSPACE: "Joint inspection of the app's data collection.",
    Party.HOUSING: "Joint inspection of the agency's sales offices.",
    Party.EDUCATION: "Joint inspection of the training company.",
    Party.FINANCE: "Joint inspection of the lender's customer files.",
    Party.POSTAL: "Joint inspection of the delivery outlets' waybill handling.",
    Party.TOURISM: "Joint inspection of the travel agency and its lodgings.",
}
"""One joint enforcement action (联合执法) with the department, as a coordination request."""


@dataclass
class Script:
    cast: Cast
    desks: Desks
    clock: ScaledClock
    book: dict[str, Message]
    """Every message the simulated participants published, by id (the ledger fills it)."""
    rng: random.Random
    performed: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return sum(self.performed.get(k, 0) for k in ("answer", "forward", "police_answer"))

    def perform(self, step: Step) -> None:
        if isinstance(step, CaseStep):
            self._case(step.plan, step.action, step.by, step.to)
            key = step.action.value
        elif isinstance(step, Answer):
            self.desks[step.by].reply(self.book[step.regarding], step.kind, dict(ANSWER_BODIES[step.kind]))
            key = "answer"
        elif isinstance(step, Forward):
            self._forward(step.hub, self.book[step.regarding])
            key = "forward"
        else:
            self._police(step)
            key = "police_answer"
        self.performed[key] = self.performed.get(key, 0) + 1

    # ---- the bureaus' own messages ----

    def _now(self) -> str:
        return self.clock.now().isoformat()

    def _person(self) -> dict[str, str]:
        return {
            "role": "suspect",
            "name": f"{self.rng.choice(SURNAMES)}某",
            "phone": f"1380000{self.rng.randint(0, 9999):04d}",
        }

    def _send(self, publisher: Address, message: Message | bytes, message_id: str | None = None) -> None:
        self.desks[publisher].publish(message, message_id)

    def _message(
        self,
        plan: CasePlan,
        kind: Kind,
        sender: Address,
        to: list[Address],
        body: dict[str, Any],
        **envelope: Any,
    ) -> Message:
        return new_message(
            kind, str(sender), [str(t) for t in to], plan.case_id, body, sent_at=self._now(), **envelope
        )

    def _case(
        self, plan: CasePlan, action: CaseAction, by: Address | None = None, to: Address | None = None
    ) -> None:
        summary = f"{plan.facts.sector.value}: {plan.violation.value}"
        bureau, facts = plan.bureau, plan.facts
        if action is CaseAction.OPEN:
            if plan.vertical is Kind.ESCALATION:
                body = {
                    "reason": "Major case spanning several jurisdictions.",
                    "summary": summary,
                    "persons": [self._person()],
                }
                self._send(bureau, self._message(plan, Kind.ESCALATION, bureau, [], body, case=facts))
            else:
                body = {"summary": summary, "persons": [self._person()]}
                superior = self.cast.bureau(self.cast.registry.superior_of(bureau.code) or "000000")
                self._send(
                    bureau, self._message(plan, Kind.CASE_NOTICE, bureau, [superior], body, case=facts)
                )
        elif action is CaseAction.ASSIST and plan.assistance_from is not None:
            body = {"summary": summary, "questions": ["Identify the buyers of the data and the payments."]}
            handling = [Handling.NO_ONWARD_DISSEMINATION.value] if self.rng.random() < 0.25 else []
            message = self._message(
                plan,
                Kind.ASSISTANCE_REQUEST,
                bureau,
                [plan.assistance_from],
                body,
                case=facts,
                handling=handling or None,
            )
            self._send(bureau, message)
        elif action is CaseAction.COORDINATE and plan.department is not None:
            what, request = COORDINATION[plan.department.party]
            body = {"action": what, "request": request, "summary": summary}
            self._send(
                bureau,
                self._message(plan, Kind.COORDINATION_REQUEST, bureau, [plan.department], body, case=facts),
            )
        elif action is CaseAction.JOIN and plan.joint_with is not None:
            body = {
                "action": "joint_action",
                "request": JOINT_ACTION[plan.joint_with.party],
                "summary": summary,
            }
            self._send(
                bureau,
                self._message(plan, Kind.COORDINATION_REQUEST, bureau, [plan.joint_with], body, case=facts),
            )
        elif action is CaseAction.TRANSFER and plan.transfer_to is not None:
            body = {"reason": "The company is registered there.", "summary": summary}
            self._send(
                bureau, self._message(plan, Kind.CASE_TRANSFER, bureau, [plan.transfer_to], body, case=facts)
            )
        elif action is CaseAction.DIRECT:
            province = self.cast.bureau(self.cast.province_of(bureau.code))
            body = {
                "directive_type": self.rng.choice(["directive", "guidance"]),
                "instructions": "Check the same practice in your jurisdiction and report back.",
            }
            self._send(
                province,
                self._message(
                    plan, Kind.DIRECTIVE, province, [], body, case=facts, scope=Scope.ALL_SUBORDINATES.value
                ),
            )
        elif action is CaseAction.REFER:
            approved = self.clock.now() - timedelta(hours=self.rng.uniform(1, 20))
            body = referral_body(
                facts, "Bureau head", approved.isoformat(), summary=summary, persons=[self._person()]
            )
            referrer = by or bureau
            police = to or Address(Party.POLICE, referrer.code)
            self._send(
                referrer, self._message(plan, Kind.POLICE_REFERRAL, referrer, [police], body, case=facts)
            )
        elif action is CaseAction.MISBEHAVE and plan.bad is not None:
            self._misbehave(plan, plan.bad)

    def _misbehave(self, plan: CasePlan, bad: BadKind) -> None:
        bureau = plan.bureau
        province = self.cast.province_of(bureau.code)
        body = {"summary": "notice"}
        if bad is BadKind.UNPROVISIONED:
            target = self.cast.bureau(self.cast.unprovisioned_under(province))
            self._send(bureau, self._message(plan, Kind.CASE_NOTICE, bureau, [target], body, case=plan.facts))
        elif bad is BadKind.FORGED_SENDER:
            other = self.cast.bureau(province if bureau.code != province else "000000")
            self._send(bureau, self._message(plan, Kind.CASE_NOTICE, other, [bureau], body, case=plan.facts))
        else:
            retired = self.cast.retired_in(province) or "330682"
            message = self._message(
                plan, Kind.CASE_NOTICE, bureau, [self.cast.bureau(province)], body, case=plan.facts
            )
            data = message.model_dump(mode="json", exclude_none=True)
            data["envelope"]["to"] = [f"bureau:{retired}"]
            raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
            self._send(bureau, raw, str(message.envelope.message_id))

    # ---- answers ----

    def _forward(self, hub: Address, original: Message) -> None:
        env = original.envelope
        targets = [t for t in env.to if Address.parse(t) != hub]
        if not targets:
            self.desks[hub].reply(original, Kind.RECEIPT_ACK, dict(ANSWER_BODIES[Kind.RECEIPT_ACK]))
            return
        body = original.body.model_dump(mode="json", exclude_none=True)
        message = new_message(
            env.kind,
            str(hub),
            targets,
            env.case_id,
            body,
            sent_at=self._now(),
            case=env.case,
            handling=[h.value for h in env.handling] or None,
            forwards=env.message_id,
        )
        self._send(hub, message)

    def _police(self, step: PoliceAnswer) -> None:
        referral = self.book[step.regarding]
        assert isinstance(referral, PoliceReferral)
        decide = police_example.file_everything if step.filed else police_example.decline_everything
        meta = Delivered(sender_user=None, rule=Rule.POLICE_REFERRAL.value, redelivered=False)
        police_example.answer(self.desks[step.police], referral, meta, decide)
