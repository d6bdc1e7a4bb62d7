"""Schemas of what the broker itself writes for participants and operators to read.

The decision record on rb.routing-log (broker/domain/decision_record.py, and the `quarantined`
record of broker/router/outputs.py), the headers of a quarantined copy and of a delivered copy. They are
written by hand from that code (it builds dicts, not models); tests validate records the code
builds against them. Definitions use ``#/$defs/`` references, like contract_schema's.
"""

from __future__ import annotations

from typing import Any

from broker.domain.decision_record import RECORD_VERSION
from broker.domain.messages import Envelope, RefusalStage
from broker.domain.routing import Rule
from broker.domain.strict import UUID_PATTERN
from broker.domain.threshold_values import Level

Schema = dict[str, Any]

QUARANTINE_STAGES = tuple(stage.value for stage in RefusalStage)
"""x-quarantine-stage values the router writes (broker/router/outputs.py)."""

_TEXT = {"type": "string", "maxLength": 500}
_TIME = {"type": "string", "format": "date-time"}
_UUID = {"$ref": "#/$defs/Uuid"}
_NULLABLE_UUID = {"anyOf": [{"$ref": "#/$defs/Uuid"}, {"type": "null"}]}
_ADDRESS_TEXT = {"type": "string", "pattern": r"^[a-z]+:[0-9]{6}$"}


def record_definitions() -> dict[str, Schema]:
    """Named definitions: RoutedRecord, QuarantinedRecord, DecisionRecord (either), headers."""
    _envelope_defs = Envelope.model_json_schema()["$defs"]
    routed: Schema = {
        "type": "object",
        "title": "RoutedRecord",
        "description": "One routing decision (event routed), built from the envelope and the decision "
        "only: never personal data. Routing key routed.<kind>.<party>.<code>.",
        "additionalProperties": False,
        "properties": {
            "event": {"const": "routed"},
            "record_version": {"const": RECORD_VERSION},
            "message_id": _UUID,
            "kind": {"$ref": "#/$defs/Kind"},
            "sender": _ADDRESS_TEXT,
            "case_id": {"type": "string"},
            "in_reply_to": _NULLABLE_UUID,
            "forwards": _NULLABLE_UUID,
            "sent_at": _TIME,
            "routed_at": _TIME,
            "handling": {"type": "array", "items": {"$ref": "#/$defs/Handling"}},
            "deliveries": {"type": "array", "items": {"$ref": "#/$defs/RecordDelivery"}},
            "case": {
                "anyOf": [{"type": "object"}, {"type": "null"}],
                "description": "The envelope's case facts (CaseFacts).",
            },
            "threshold": {"$ref": "#/$defs/ThresholdAssessment"},
            "linked_to": _UUID,
            "notices": {"type": "array", "items": {"$ref": "#/$defs/RecordNotice"}},
            "referral": {"$ref": "#/$defs/RecordReferral"},
            "assistance": {"$ref": "#/$defs/RecordAssistance"},
            "extension": {"$ref": "#/$defs/RecordExtension"},
            "filing": {"$ref": "#/$defs/RecordFiling"},
            "directive": {"$ref": "#/$defs/RecordDirective"},
            "age_ms": {"type": "number", "description": "Milliseconds from sent_at to routing."},
        },
        "required": [
            "event",
            "record_version",
            "message_id",
            "kind",
            "sender",
            "case_id",
            "in_reply_to",
            "forwards",
            "sent_at",
            "routed_at",
            "handling",
            "deliveries",
            "case",
        ],
    }
    quarantined: Schema = {
        "type": "object",
        "title": "QuarantinedRecord",
        "description": "One input that was not routed (event quarantined). Kind, sender and case id "
        "appear only when each passed its own check. Routing key quarantined.<kind>.<party>.<code>, "
        "quarantined.invalid.unknown when they could not be read.",
        "additionalProperties": False,
        "properties": {
            "event": {"const": "quarantined"},
            "message_id": {
                "anyOf": [_UUID, {"type": "null"}],
                "description": "The envelope's message_id, else the AMQP one, when either is a UUID.",
            },
            "quarantine_id": {"type": "string", "description": "A UUID, or sha256: and 16 hex digits."},
            "user_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "kind": {"$ref": "#/$defs/Kind"},
            "sender": _ADDRESS_TEXT,
            "claimed_sender": _ADDRESS_TEXT,
            "case_id": {"type": "string"},
            "stage": {"$ref": "#/$defs/QuarantineStage"},
            "field": _TEXT,
            "reason": _TEXT,
            "quarantined_at": _TIME,
            "refusal_notice": {"$ref": "#/$defs/RecordRefusalNotice"},
            "body_kept": {
                "const": False,
                "description": "Present when the quarantine entry holds no body: its sender had used "
                "up its quarantine share for the hour (README \"Quarantine shares\").",
            },
            "folding": {
                "const": True,
                "description": "Present on the entry that says its sender's further refusals are "
                "counted, not kept, until the next such entry.",
            },
            "folded_before": {
                "type": "integer",
                "minimum": 1,
                "description": "The sender's refusals folded (counted, not kept) since its previous entry.",
            },
        },
        "required": [
            "event",
            "message_id",
            "quarantine_id",
            "user_id",
            "stage",
            "field",
            "reason",
            "quarantined_at",
        ],
    }
    return {
        "RoutedRecord": routed,
        "QuarantinedRecord": quarantined,
        "DecisionRecord": {
            "title": "DecisionRecord",
            "description": "A record on rb.routing-log: routed or quarantined (by `event`).",
            "oneOf": [{"$ref": "#/$defs/RoutedRecord"}, {"$ref": "#/$defs/QuarantinedRecord"}],
        },
        "RecordDelivery": {
            "type": "object",
            "title": "RecordDelivery",
            "additionalProperties": False,
            "properties": {
                "to": _ADDRESS_TEXT,
                "rule": {"$ref": "#/$defs/RoutingRule"},
                "reason": {"type": "string"},
            },
            "required": ["to", "rule", "reason"],
        },
        "RecordRefusalNotice": {
            "type": "object",
            "title": "RecordRefusalNotice",
            "description": "The delivery_refused the broker sent the authenticated publisher.",
            "additionalProperties": False,
            "properties": {"message_id": _UUID, "to": _ADDRESS_TEXT},
            "required": ["message_id", "to"],
        },
        "RecordNotice": {
            "type": "object",
            "title": "RecordNotice",
            "additionalProperties": False,
            "properties": {
                "message_id": _UUID,
                "kind": {"$ref": "#/$defs/Kind"},
                "to": {"type": "array", "items": _ADDRESS_TEXT},
            },
            "required": ["message_id", "kind", "to"],
        },
        "ThresholdAssessment": {
            "type": "object",
            "title": "ThresholdAssessment",
            "description": "The router's own threshold assessment of a police referral "
            "(Assessment.to_dict() without the explanation); see schemas/threshold/.",
            "properties": {
                "reached": {"type": "boolean"},
                "level": {"$ref": "#/$defs/ThresholdLevel"},
                "rules_version": {"type": "string"},
                "rules_citation": {"type": "string"},
                "insider": {"type": "boolean"},
                "clauses": {"type": "array", "items": {"type": "object"}},
                "comparisons": {"type": "array", "items": {"type": "object"}},
            },
            "required": ["reached", "level", "rules_version", "clauses"],
        },
        "QuarantineHeaders": {
            "type": "object",
            "title": "QuarantineHeaders",
            "description": "AMQP headers of a message in rb.quarantine; the body is the input unchanged, "
            "or empty when x-quarantine-body is `withheld`.",
            "properties": {
                "x-quarantine-stage": {"$ref": "#/$defs/QuarantineStage"},
                "x-quarantine-field": _TEXT,
                "x-quarantine-reason": _TEXT,
                "x-original-user-id": {
                    "type": "string",
                    "description": "The publisher's validated user_id, empty if none.",
                },
                "x-quarantine-digest": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "SHA-256 of the body.",
                },
                "x-quarantined-at": _TIME,
                "x-quarantine-body": {
                    "const": "withheld",
                    "description": "The body was not kept: its sender had used up its quarantine share "
                    "for the hour (README \"Quarantine shares\"). The digest is the original body's.",
                },
                "x-quarantine-size": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "With x-quarantine-body: the size in bytes of the body not kept.",
                },
            },
            "required": [
                "x-quarantine-stage",
                "x-quarantine-field",
                "x-quarantine-reason",
                "x-original-user-id",
                "x-quarantine-digest",
                "x-quarantined-at",
            ],
        },
        "DeliveryHeaders": {
            "type": "object",
            "title": "DeliveryHeaders",
            "description": "AMQP headers the router adds to every copy it delivers to an inbox. "
            "Publishers do not set them.",
            "properties": {
                "x-sender": {**_ADDRESS_TEXT, "description": "Authenticated sender address."},
                "x-kind": {"$ref": "#/$defs/Kind"},
                "x-case-id": {"type": "string"},
                "x-rule": {"$ref": "#/$defs/RoutingRule", "description": "Routing rule of this copy."},
                "x-recipient": _ADDRESS_TEXT,
                "x-threshold-level": {"$ref": "#/$defs/ThresholdLevel", "description": "Police referrals."},
                "x-threshold-version": {"type": "string", "description": "Police referrals."},
                "x-linked-to": {"type": "string", "description": "A referral joined to an earlier one."},
                "x-caused-by": {
                    "type": "string",
                    "description": "Messages the broker sends: what caused it.",
                },
            },
            "required": ["x-sender", "x-kind", "x-case-id", "x-rule", "x-recipient"],
        },
        "RecordReferral": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"approved_at": _TIME},
            "required": ["approved_at"],
        },
        "RecordAssistance": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"complete": {"type": "boolean"}},
            "required": ["complete"],
        },
        "RecordExtension": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "requested_working_days": {"type": "integer"},
                "granted": {"type": "boolean"},
                "extra_working_days": {"type": "integer"},
            },
        },
        "RecordFiling": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"decision": {"$ref": "#/$defs/FilingOutcome"}},
            "required": ["decision"],
        },
        "RecordDirective": {
            "type": "object",
            "additionalProperties": False,
            "description": "directive: 督办 (directive: the addressees owe a results report) or 指导 "
            "(guidance).",
            "properties": {"directive_type": {"$ref": "#/$defs/RecordDirectiveType"}},
            "required": ["directive_type"],
        },
        # the same definitions as the message schemas', so the two documents share one Kind
        "Kind": _envelope_defs["Kind"],
        "Handling": _envelope_defs["Handling"],
        "RoutingRule": {"title": "RoutingRule", "enum": [r.value for r in Rule], "type": "string"},
        "ThresholdLevel": {"title": "ThresholdLevel", "enum": [lv.value for lv in Level], "type": "string"},
        "QuarantineStage": {"title": "QuarantineStage", "enum": list(QUARANTINE_STAGES), "type": "string"},
        "FilingOutcome": {"title": "FilingOutcome", "enum": ["filed", "not_filed"], "type": "string"},
        "RecordDirectiveType": {
            "title": "RecordDirectiveType",
            "enum": ["directive", "guidance"],
            "type": "string",
        },
        "Uuid": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
    }
