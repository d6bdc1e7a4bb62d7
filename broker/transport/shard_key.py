"""The routing key a participant publishes with: a digest of the message's case id, which the
sharded topology (topology.SHARD_EXCHANGE) hashes, so one case's messages reach one router in order.
"""

from __future__ import annotations

import hashlib
import json

SHARD_KEY_HEX = 16
"""Hex digits of SHA-256(case id) in a participant's routing key: the case id itself may not travel
in a header the broker shows (it is checked for personal data only once the router reads it)."""


def of_case(case_id: str) -> str:
    """The routing key a participant publishes a message of this case with: the first
    SHARD_KEY_HEX hex digits of SHA-256 of the case id's UTF-8 bytes. Any other key is routed as
    well; only the order of that case's messages across shards is then not kept."""
    return hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:SHARD_KEY_HEX]


def of_body(body: bytes) -> str:
    """The shard key of a body that is a message (its envelope's case id), else "" (the router
    refuses such a body wherever it lands)."""
    try:
        case_id = json.loads(body)["envelope"]["case_id"]
    except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: nesting too deep
        return ""
    return of_case(case_id) if isinstance(case_id, str) else ""
