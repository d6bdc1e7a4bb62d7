"""The outputs step: what the router publishes for each outcome, as values (copies, linked notices,
the quarantine copy, the refusal notice, the decision record, the retry-queue copy of a refused
input). The pipeline hands them to the publisher; nothing here talks to the broker."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from broker.domain import quarantine_ids
from broker.domain.address import Address
from broker.domain.decision_record import DecisionRecord
from broker.domain.messages import Kind, Message
from broker.domain.refusals import BODY_NOT_KEPT, CLEAR_NOT_KEPT, FOLDING, refusal_notice
from broker.domain.routing import RoutingDecision, Rule
from broker.logs import REDACTED, _scrub
from broker.participants import SYSTEM, Participants
from broker.router.outcomes import Quarantine, Route
from broker.router.ports import Inbound, Publisher, Token
from broker.router.shares import KEEP_WHOLE, Admission, Keep

MAX_HEADER_TEXT = 500
"""Longest text put in a quarantine header: headers share one frame (frame_max, 128 KiB)."""

REFUSAL_TOKEN = "refusal"
"""Confirm token of an input's refusal notice."""

PARK_TOKEN = "park"
"""Confirm token of an input's copy on the retry queue."""


@dataclass(frozen=True)
class Destinations:
    """Where outputs go (broker/transport/topology.py names them)."""

    deliver: str
    """Exchange of the participants' inboxes, by address."""
    quarantine: str
    routing_log: str
    retry_queue: str


@dataclass(frozen=True)
class Output:
    token: Token
    body: bytes
    exchange: str
    routing_key: str
    properties: dict[str, Any]
    mandatory: bool = False
    """The broker returns it (counted as refused) when no queue takes it."""


@dataclass
class Outputs:
    messages: list[Output] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    """The decision record, also published (the last of `messages`) and logged after the ack."""
    refusal: bool = False
    """Whether a refusal notice is among `messages`."""


def send(publisher: Publisher, outputs: list[Output]) -> None:
    for o in outputs:
        extra = {"mandatory": True} if o.mandatory else {}
        publisher.publish(o.token, o.body, o.exchange, o.routing_key, **extra, **o.properties)


def user_id_of(delivery: Inbound) -> str | None:
    """The user_id RabbitMQ validated against the publisher's login (it refuses any other)."""
    user_id = delivery.properties.get("user_id")
    return user_id if isinstance(user_id, str) and user_id else None


def message_id_of(delivery: Inbound) -> str | None:
    """The AMQP message_id, only when it is a UUID (as the contract's ids are): any other text is a
    value a participant chose and may hold personal data, so it is never copied."""
    return quarantine_ids.canonical_uuid(delivery.properties.get("message_id"))


def route_outputs(
    index: int,
    route: Route,
    user_id: str,
    participants: Participants,
    to: Destinations,
    now: datetime,
    wall_s: float,
) -> Outputs:
    """Copies to the recipients still pending, the linked notices, the decision record. `now` is
    the router's clock (routed_at); `wall_s` the real time, for the record's age_ms."""
    decision = route.decision
    env = route.message.envelope
    extra_headers: dict[str, Any] = {}
    if decision.threshold is not None:
        extra_headers["x-threshold-level"] = decision.threshold["level"]
        extra_headers["x-threshold-version"] = decision.threshold["rules_version"]
    if decision.linked_to is not None:
        extra_headers["x-linked-to"] = str(decision.linked_to)
    out = Outputs()
    for delivery in decision.deliveries:
        if delivery.recipient not in route.pending:
            continue
        out.messages.append(
            Output(
                (index, str(delivery.recipient)),
                route.body,
                to.deliver,
                str(delivery.recipient),
                {
                    **_json_properties(str(env.message_id)),
                    "user_id": user_id,
                    "correlation_id": str(env.in_reply_to) if env.in_reply_to else None,
                    "application_headers": {
                        "x-sender": str(decision.sender),
                        "x-kind": env.kind.value,
                        "x-case-id": env.case_id,
                        "x-rule": delivery.rule.value,
                        "x-recipient": str(delivery.recipient),
                        **extra_headers,
                    },
                },
            )
        )
    for notice in decision.notices:
        out.messages.extend(_notice_outputs(index, notice, decision, participants, to))
    age_ms = round((wall_s - env.sent_at.timestamp()) * 1000, 1)
    body = DecisionRecord.of(route.message, decision, now, age_ms).wire_bytes()
    out.record = orjson.loads(body)  # for the log line; the bytes are what is published
    out.messages.append(record_output(index, "routed", out.record, to, body))
    return out


def _json_properties(message_id: str) -> dict[str, Any]:
    return {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "message_id": message_id,
    }


_NOTICE_RULES = {Kind.REFERRAL_LINKED: Rule.LINKED_NOTICE, Kind.ASSESSMENT_RESULT: Rule.ASSESSMENT_RESULT}
"""The x-rule of each kind of message a decision makes the broker send."""


def _notice_outputs(
    index: int, notice: Message, cause: RoutingDecision, participants: Participants, to: Destinations
) -> list[Output]:
    """A message the broker itself sends (as system:000000, which the router may impersonate); one
    that answers (an assessment_result) carries what it answers as its correlation_id."""
    body = notice.model_dump_json(exclude_none=True).encode("utf-8")
    in_reply_to = notice.envelope.in_reply_to
    return [
        Output(
            (index, f"notice:{recipient}"),
            body,
            to.deliver,
            recipient,
            {
                **_json_properties(str(notice.envelope.message_id)),
                "user_id": participants.username(SYSTEM),
                "correlation_id": str(in_reply_to) if in_reply_to else None,
                "application_headers": {
                    "x-sender": str(SYSTEM),
                    "x-kind": notice.envelope.kind.value,
                    "x-case-id": notice.envelope.case_id,
                    "x-rule": _NOTICE_RULES[notice.envelope.kind].value,
                    "x-recipient": recipient,
                    "x-caused-by": str(cause.message_id),
                },
            },
        )
        for recipient in notice.envelope.to
    ]


def quarantine_outputs(
    index: int,
    delivery: Inbound,
    user_id: str | None,
    outcome: Quarantine,
    participants: Participants,
    to: Destinations,
    now: datetime,
    share: Admission = KEEP_WHOLE,
) -> Outputs:
    """The input, unchanged, on the quarantine exchange with x-quarantine-* headers saying why; the
    refusal notice to its authenticated publisher (`user_id`, as RabbitMQ validated it); the
    decision record. `share`: what the sender's quarantine share lets the router keep
    (broker/router/shares.py); the pipeline publishes nothing for a folded input."""
    sender = participants.address_of(user_id) if user_id else None
    record = _quarantine_record(delivery, user_id, sender, outcome, now)
    headers: dict[str, Any] = {
        "x-quarantine-stage": outcome.stage,
        "x-quarantine-field": record["field"],
        "x-quarantine-reason": record["reason"],
        "x-original-user-id": user_id or "",
        "x-quarantine-digest": quarantine_ids.digest(delivery.body),
        "x-quarantined-at": record["quarantined_at"],
    }
    body, also = delivery.body, ""
    if share.keep is not Keep.WHOLE:
        body, also = b"", {Keep.FOLD: FOLDING, Keep.CLEAR: CLEAR_NOT_KEPT}.get(share.keep, BODY_NOT_KEPT)
        headers |= {"x-quarantine-body": "withheld", "x-quarantine-size": len(delivery.body)}
        record["body_kept"] = False
    if share.keep is Keep.FOLD:
        record["folding"] = True
    if share.folded_before:
        record["folded_before"] = share.folded_before
    props = delivery.properties
    out = Outputs(record=record)
    out.messages.append(
        Output(
            (index, "quarantine"),
            body,
            to.quarantine,
            "",
            {
                "content_type": _text(props.get("content_type")) or "application/octet-stream",
                "content_encoding": _text(props.get("content_encoding")) or "binary",
                "delivery_mode": 2,
                "message_id": message_id_of(delivery),
                "application_headers": headers,
            },
        )
    )
    if sender is not None and sender != SYSTEM:
        out.messages.append(_refusal_output(index, sender, record, participants, to, now, also))
        out.refusal = True
    out.messages.append(record_output(index, "quarantined", record, to))
    return out


def _quarantine_record(
    delivery: Inbound, user_id: str | None, sender: Address | None, outcome: Quarantine, now: datetime
) -> dict[str, Any]:
    """What an operator needs to find a quarantined input (domain/quarantine_ids.py): never a value
    that failed its check."""
    message_id = message_id_of(delivery)
    body_digest = quarantine_ids.digest(delivery.body)
    facts = quarantine_ids.envelope_facts(delivery.body)
    authenticated = str(sender) if sender else None
    record: dict[str, Any] = {
        "event": "quarantined",
        "message_id": facts.message_id or message_id,
        "quarantine_id": quarantine_ids.quarantine_id(facts, message_id, body_digest),
        "user_id": user_id or None,
        "kind": facts.kind,
        # the authenticated sender; the envelope's claim only beside it, when it differs
        "sender": authenticated,
        "claimed_sender": facts.sender if facts.sender != authenticated else None,
        "case_id": facts.case_id,
        "stage": outcome.stage,
        "field": _scrub(outcome.field[:MAX_HEADER_TEXT]),
        "reason": _scrub(outcome.reason[:MAX_HEADER_TEXT]),
        "quarantined_at": now.isoformat(),
    }
    for unread in [k for k in ("kind", "sender", "claimed_sender", "case_id") if record[k] is None]:
        del record[unread]  # the routing key says `invalid.unknown` for what could not be read
    return record


def _refusal_output(
    index: int,
    publisher: Address,
    record: dict[str, Any],
    participants: Participants,
    to: Destinations,
    now: datetime,
    also: str = "",
) -> Output:
    """Tell the authenticated publisher of a quarantined input why (broker/domain/refusals.py).
    Input with no validated user_id, or the broker's own, gets none: nobody to answer. Notes the
    notice in `record`."""
    notice = refusal_notice(
        publisher,
        stage=record["stage"],
        field=record["field"],
        reason=record["reason"],
        quarantine_id=record["quarantine_id"],
        refused_message_id=record.get("message_id"),
        case_id=record.get("case_id"),
        sent_at=now,
        also=also,
    )
    record["refusal_notice"] = {"message_id": str(notice.envelope.message_id), "to": str(publisher)}
    return Output(
        (index, REFUSAL_TOKEN),
        notice.model_dump_json(exclude_none=True).encode("utf-8"),
        to.deliver,
        str(publisher),
        {
            **_json_properties(str(notice.envelope.message_id)),
            "user_id": participants.username(SYSTEM),
            "application_headers": {
                "x-sender": str(SYSTEM),
                "x-kind": notice.envelope.kind.value,
                "x-case-id": notice.envelope.case_id,
                "x-rule": Rule.DELIVERY_REFUSED.value,
                "x-recipient": str(publisher),
            },
        },
    )


def record_output(
    index: int, event: str, record: dict[str, Any], to: Destinations, body: bytes | None = None
) -> Output:
    """The decision record on rb.routing-log, confirmed like every output (the tracker reads it);
    `body`: the record already serialized, when it was."""
    kind = record.get("kind", "invalid")
    sender = str(record.get("sender", "unknown")).replace(":", ".")
    return Output(
        (index, "record"),
        body if body is not None else json.dumps(record, ensure_ascii=False).encode("utf-8"),
        to.routing_log,
        f"{event}.{kind}.{sender}",
        {"content_type": "application/json", "content_encoding": "utf-8", "delivery_mode": 2},
    )


def park_outputs(refused: list[Inbound], to: Destinations) -> list[Output]:
    """Copies of inputs whose outputs were refused, for the retry queue; tokens number them in
    `refused`. Through the default exchange with `mandatory`: if the queue is not there, the
    publish comes back."""
    return [
        Output(
            (index, PARK_TOKEN),
            delivery.body,
            "",
            to.retry_queue,
            {
                "content_type": delivery.properties.get("content_type"),
                "content_encoding": delivery.properties.get("content_encoding"),
                "delivery_mode": 2,
                "message_id": message_id_of(delivery),
                "user_id": user_id_of(
                    delivery
                ),  # the router may impersonate: the retry keeps the sender's proof
            },
            mandatory=True,
        )
        for index, delivery in enumerate(refused)
    ]


def _text(value: Any) -> str | None:
    """A short property value copied onto a quarantined message, scrubbed, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = _scrub(value[:100])
    return text if REDACTED not in text else None
