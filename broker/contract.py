"""The contract outside Python: JSON Schema files generated from the models, and example messages.

`referral-broker export-schemas` writes them under schemas/; `--check` (and a test) fails when the
committed files differ from what the models generate, so the contract cannot drift silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from broker.domain.messages import MESSAGE_TYPES, SCHEMA_VERSION, Kind, Message
from broker.examples import example_messages

SCHEMA_BASE_URI = "https://referral-broker.invalid/schemas"
"""Identifiers of the schema files ($id); not fetched from anywhere."""


def kind_schema(kind: Kind) -> dict[str, Any]:
    """JSON Schema of one message kind, with the kind's own envelope rules made explicit."""
    model: type[Message] = MESSAGE_TYPES[kind]
    schema = model.model_json_schema(mode="validation")
    required_envelope = ["kind"]
    if model.IS_REPLY:
        required_envelope.append("in_reply_to")
    if model.CASE_FACTS == "required":
        required_envelope.append("case")
    rules: dict[str, Any] = {"properties": {"kind": {"const": kind.value}}, "required": required_envelope}
    if not model.IS_REPLY:
        rules["not"] = {"required": ["in_reply_to"]}
    if model.CASE_FACTS == "forbidden":
        rules.setdefault("allOf", []).append({"not": {"required": ["case"]}})
    schema["properties"]["envelope"] = {"allOf": [schema["properties"]["envelope"], rules]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{SCHEMA_BASE_URI}/v{SCHEMA_VERSION}/{kind.value}.schema.json"
    schema["title"] = f"{kind.value} (contract {SCHEMA_VERSION})"
    schema["description"] = (model.__doc__ or kind.value).strip().splitlines()[0]
    return schema


def index_schema() -> dict[str, Any]:
    """One schema accepting any message of this version: a oneOf over the kinds' files."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE_URI}/v{SCHEMA_VERSION}/message.schema.json",
        "title": f"referral-broker message (contract {SCHEMA_VERSION})",
        "oneOf": [{"$ref": f"{kind.value}.schema.json"} for kind in MESSAGE_TYPES],
    }


def rendered(root: Path) -> dict[Path, str]:
    """Every generated file under root, with its text."""
    files: dict[Path, str] = {}
    folder = root / f"v{SCHEMA_VERSION}"
    for kind in MESSAGE_TYPES:
        files[folder / f"{kind.value}.schema.json"] = _dump(kind_schema(kind))
    files[folder / "message.schema.json"] = _dump(index_schema())
    for message in example_messages():
        data = message.model_dump(mode="json", exclude_none=True)
        files[root / "examples" / f"{message.envelope.kind.value}.json"] = _dump(data)
    files[root / "asyncapi.yaml"] = yaml.safe_dump(
        asyncapi_document(), sort_keys=False, allow_unicode=True, width=100
    )
    return files


def export(root: Path) -> list[Path]:
    written = []
    for path, text in rendered(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def drift(root: Path) -> list[str]:
    """Files that differ from what the models generate (empty when the contract is in sync)."""
    problems = []
    for path, text in rendered(root).items():
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the models")
    return problems


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3 description of the channels, operations and messages, generated from the code."""
    from broker.transport import topology

    version = f"v{SCHEMA_VERSION}"
    messages = {
        kind.value: {
            "name": kind.value,
            "title": kind.value.replace("_", " "),
            "summary": (model.__doc__ or kind.value).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/DeliveryHeaders"},
            "payload": {
                "schemaFormat": "application/schema+json;version=draft-2020-12",
                "schema": {"$ref": f"{version}/{kind.value}.schema.json"},
            },
        }
        for kind, model in MESSAGE_TYPES.items()
    }

    def all_messages() -> dict[str, Any]:  # a fresh dict each time, so YAML has no anchors
        return {k: {"$ref": f"#/components/messages/{k}"} for k in messages}

    amqp_exchange = {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "referral-broker",
            "version": SCHEMA_VERSION,
            "description": (
                "Case referrals between market-regulation bureaus, other departments and the police over "
                "RabbitMQ (AMQP 0-9-1). Every participant connects as its own RabbitMQ user, publishes "
                f"to the `{topology.INBOUND_EXCHANGE}` exchange with the `user_id` property set to that user "
                "and publisher confirms on, and consumes only its own inbox "
                f"`{topology.INBOX_PREFIX}<address>.<token>` (the name is in its credentials entry) "
                "with manual acks. The router validates, authenticates "
                "and routes; copies keep the original sender's validated user_id. Messages may arrive more "
                "than once (at-least-once): drop repeats by `message_id`. Generated by "
                "`referral-broker export-schemas`; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "Development broker; production uses amqps with per-participant credentials.",
            }
        },
        "channels": {
            "inbound": {
                "address": topology.INBOUND_EXCHANGE,
                "description": "Where every participant publishes (fanout; any routing key). Set user_id, "
                "message_id (= envelope.message_id), content_type application/json, persistent delivery.",
                "messages": all_messages(),
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": topology.INBOUND_EXCHANGE,
                            "type": "fanout",
                            "durable": True,
                            "autoDelete": False,
                            "vhost": "/",
                        },
                        "bindingVersion": "0.3.0",
                    }
                },
            },
            "inbox": {
                "address": topology.INBOX_PREFIX + "{address}.{token}",
                "description": "One durable quorum queue per provisioned participant, e.g. "
                f"`{topology.INBOX_PREFIX}bureau:330681.<token>`. Fed by the `{topology.DELIVER_EXCHANGE}` "
                "direct exchange with the address as routing key. Readable only by its participant.",
                "parameters": {
                    "address": {"description": "party:code, e.g. bureau:330681 or police:330600"},
                    "token": {
                        "description": "32 hex digits only provisioning can compute (an HMAC of the address "
                        "with the deployment's secret), so no other participant can find the inbox; "
                        "each participant is told its inbox name in its credentials entry"
                    },
                },
                "messages": all_messages(),
                "bindings": {
                    "amqp": {
                        "is": "queue",
                        "queue": {
                            "name": topology.INBOX_PREFIX + "{address}.{token}",
                            "durable": True,
                            "exclusive": False,
                            "autoDelete": False,
                            "vhost": "/",
                        },
                        "bindingVersion": "0.3.0",
                    }
                },
            },
            "quarantine": {
                "address": topology.QUARANTINE,
                "description": "Input that was not routed, unchanged, with headers x-quarantine-stage "
                "(contract, authentication, routing, duplicate, internal), x-quarantine-field and "
                "x-quarantine-reason. Operators only.",
                "messages": {"quarantined": {"$ref": "#/components/messages/quarantined"}},
            },
            "routingLog": {
                "address": topology.ROUTING_LOG,
                "description": "Topic exchange: one JSON record per decision, routing key "
                "`<event>.<kind>.<party>.<code>` (event routed or quarantined). No personal data.",
                "messages": {"decisionRecord": {"$ref": "#/components/messages/decisionRecord"}},
                "bindings": amqp_exchange,
            },
        },
        "operations": {
            "publish": {
                "action": "send",
                "channel": {"$ref": "#/channels/inbound"},
                "summary": "A participant publishes any message kind, with confirms.",
            },
            "consumeInbox": {
                "action": "receive",
                "channel": {"$ref": "#/channels/inbox"},
                "summary": "A participant consumes its inbox with manual acks; nack with requeue to retry.",
            },
            "watchQuarantine": {"action": "receive", "channel": {"$ref": "#/channels/quarantine"}},
            "followRoutingLog": {"action": "receive", "channel": {"$ref": "#/channels/routingLog"}},
        },
        "components": {
            "messages": {
                **messages,
                "quarantined": {
                    "name": "quarantined",
                    "contentType": "application/octet-stream",
                    "summary": "The rejected input as received, with the reason in headers.",
                },
                "decisionRecord": {
                    "name": "decisionRecord",
                    "contentType": "application/json",
                    "summary": "A routing decision: message id, kind, sender, case id, "
                    "deliveries (to, rule, reason), latency.",
                },
            },
            "schemas": {
                "DeliveryHeaders": {
                    "type": "object",
                    "description": "AMQP headers the router adds to every delivered copy.",
                    "properties": {
                        "x-sender": {"type": "string", "description": "Authenticated sender address."},
                        "x-kind": {"type": "string"},
                        "x-case-id": {"type": "string"},
                        "x-rule": {"type": "string", "description": "Routing rule that delivered this copy."},
                        "x-recipient": {"type": "string"},
                    },
                }
            },
        },
    }
