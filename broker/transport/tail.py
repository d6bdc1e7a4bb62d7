"""`referral-broker tail`: follow the routing log from the broker, filtered, one JSON line each."""

from __future__ import annotations

import json
import sys
from typing import Any

from kombu import Connection, Consumer, Exchange, Queue

from broker.settings import Settings
from broker.transport import topology
from broker.transport.tls import kombu_options


def matches(record: dict[str, Any], bureau: str | None, case_id: str | None, kind: str | None) -> bool:
    if case_id and record.get("case_id") != case_id:
        return False
    if kind and record.get("kind") != kind:
        return False
    if bureau:
        parties = [str(record.get("sender", ""))] + [
            str(d.get("to", "")) for d in record.get("deliveries", [])
        ]
        wanted = bureau if ":" in bureau else None
        if not any(p == wanted or (wanted is None and p.endswith(f":{bureau}")) for p in parties):
            return False
    return True


def follow(
    settings: Settings,
    bureau: str | None = None,
    case_id: str | None = None,
    kind: str | None = None,
    count: int | None = None,
) -> int:
    printed = 0
    log_exchange = Exchange(topology.ROUTING_LOG, type="topic", durable=True, no_declare=True)
    queue = Queue("", exchange=log_exchange, routing_key="#", exclusive=True, auto_delete=True, durable=False)

    def on_message(message: Any) -> None:
        nonlocal printed
        try:
            record = json.loads(message.body)
        except ValueError:
            return
        if matches(record, bureau, case_id, kind):
            print(json.dumps(record, ensure_ascii=False), flush=True)
            printed += 1

    with (
        Connection(settings.amqp_url, **kombu_options(settings.amqp_url)) as conn,
        Consumer(conn.channel(), [queue], on_message=on_message, no_ack=True),
    ):
        print(f"following {topology.ROUTING_LOG} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        try:
            while count is None or printed < count:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    continue
        except KeyboardInterrupt:
            pass
    return 0
