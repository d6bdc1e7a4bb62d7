"""The practical limit: a raw forwarder with the router's client library and confirm strategy.

It consumes a queue, publishes each body unchanged to another queue with streamed publisher
confirms, and acks each input after its output is confirmed, in batches as the router does; no
validation, no routing, no database. `referral-broker bench` runs it as a subprocess.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import deque
from typing import Any

from kombu import Connection, Consumer, Queue

from broker.transport.confirms import ConfirmedPublisher

PREFETCH = 256
"""Same batch bound as the router's default prefetch."""


def forward(url: str, source: str, target: str, stop: threading.Event) -> int:
    pending: deque[Any] = deque()
    forwarded = 0
    with Connection(url, heartbeat=30) as conn:
        conn.connect()
        consume_channel = conn.channel()
        consume_channel.basic_qos(0, PREFETCH, False)
        publisher = ConfirmedPublisher(conn, conn.channel())
        with Consumer(
            consume_channel, [Queue(source, no_declare=True)], on_message=pending.append, no_ack=False
        ):
            while not stop.is_set():
                if not pending:
                    try:
                        conn.drain_events(timeout=0.2)
                    except TimeoutError:
                        continue
                    continue
                batch = [pending.popleft() for _ in range(min(len(pending), PREFETCH))]
                for index, message in enumerate(batch):
                    body = message.body
                    if isinstance(body, str):
                        body = body.encode("utf-8")
                    publisher.publish(
                        (index, ""), body, "", target, delivery_mode=2, content_type="application/json"
                    )
                nacked = publisher.wait()
                if not nacked:
                    batch[-1].ack(multiple=True)  # the same batch acknowledgement as the router's
                    forwarded += len(batch)
                    continue
                for index, message in enumerate(batch):
                    if (index, "") in nacked:
                        message.requeue()
                    else:
                        message.ack()
                        forwarded += 1
    return forwarded


def main(argv: list[str] | None = None) -> int:
    url, source, target = (argv or sys.argv[1:])[:3]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    forward(url, source, target, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
