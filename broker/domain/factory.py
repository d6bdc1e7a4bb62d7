"""Messages made in code (by participants' systems, the tracker, tests, tools): built as the wire
would carry them and validated by the same path as the router's input, so nothing made here can be
a message the router would refuse as malformed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from broker.domain.kinds import Kind
from broker.domain.messages import SCHEMA_VERSION, Message
from broker.domain.validation import validate_message


def new_message(
    kind: Kind,
    sender: str,
    to: list[str],
    case_id: str,
    body: dict[str, Any],
    **envelope: Any,
) -> Message:
    """Build and validate a message with a fresh id and the current time; ``envelope`` adds or
    overrides envelope fields (None leaves a field out)."""
    data = {
        "envelope": {
            "message_id": str(uuid4()),
            "kind": kind.value,
            "schema_version": SCHEMA_VERSION,
            "sender": sender,
            "to": to,
            "case_id": case_id,
            "sent_at": datetime.now(UTC).isoformat(),
            **{k: v for k, v in envelope.items() if v is not None},
        },
        "body": body,
    }
    return validate_message(jsonable(data))


def jsonable(value: Any) -> Any:
    """Python values as their JSON form: UUIDs and datetimes as text, models as their dump."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value
