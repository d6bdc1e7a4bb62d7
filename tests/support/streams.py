"""Streams of messages over the bench's message mix, for the fault tests: published at once, or paced
by a publisher that reconnects and retries through faults; and the router as a subprocess."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from broker.domain.messages import Message
from broker.tools.bench.run import FLOWS, router_process
from broker.transport.client import ParticipantClient
from tests.support.deployment import Deployment
from tests.support.messages import msg


def start_router(dep: Deployment, database: Path, participants: Path) -> subprocess.Popen[bytes]:
    return router_process(
        dep.router_url, dep.settings.user_prefix, participants, database, stderr=subprocess.PIPE
    )


def publish_stream(dep: Deployment, total: int) -> dict[str, set[str]]:
    """Publish `total` messages round-robin over FLOWS; return the ids each recipient must get."""
    expected: dict[str, set[str]] = {}
    clients = {sender: dep.client(sender) for sender, *_ in FLOWS}
    for n in range(total):
        sender, to, kind, recipients = FLOWS[n % len(FLOWS)]
        message: Message = msg(kind, sender, to, case_id=f"K-{n}")
        clients[sender].publish(message)
        for recipient in recipients:
            expected.setdefault(recipient, set()).add(str(message.envelope.message_id))
    return expected


class RetryingPublisher(threading.Thread):
    """Publishes a paced stream over FLOWS; on any error it reconnects and publishes the same message
    again (same message id) until the broker confirms it. Duplicates are fine, losses are not."""

    def __init__(self, dep: Deployment, total: int, per_second: float, give_up_s: float = 120.0) -> None:
        super().__init__(daemon=True)
        self.dep = dep
        self.total = total
        self.interval = 1.0 / per_second
        self.give_up_s = give_up_s
        self.expected: dict[str, set[str]] = {}
        self.confirmed = 0
        self.retries = 0
        self.errors: Counter[str] = Counter()
        self.failure: BaseException | None = None
        self.stopping = threading.Event()
        self._clients: dict[str, ParticipantClient | None] = {}
        self._publishing_since: float | None = None
        """When the publish in hand began (monotonic), None between two publishes."""

    def run(self) -> None:
        try:
            next_at = time.monotonic()
            for n in range(self.total):
                if self.stopping.is_set():
                    return
                sender, to, kind, recipients = FLOWS[n % len(FLOWS)]
                message = msg(kind, sender, to, case_id=f"S-{n}")
                for recipient in recipients:
                    self.expected.setdefault(recipient, set()).add(str(message.envelope.message_id))
                self._publishing_since = time.monotonic()
                self._publish(sender, message)
                self._publishing_since = None
                self.confirmed += 1
                next_at += self.interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        except BaseException as exc:
            self.failure = exc
        finally:
            for client in self._clients.values():
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()

    def state(self) -> str:
        """Where the stream is, for a test's failure message."""
        since = self._publishing_since
        doing = (
            "between two publishes" if since is None else f"in a publish for {time.monotonic() - since:.1f} s"
        )
        return f"publisher {doing}, {self.confirmed} confirmed, {self.retries} retries {dict(self.errors)}"

    def _publish(self, sender: str, message: Any) -> None:
        deadline = time.monotonic() + self.give_up_s
        while True:
            client = self._clients.get(sender)
            try:
                if client is None:
                    client = ParticipantClient(self.dep.url_for(sender), sender, connect_timeout_s=5)
                    self._clients[sender] = client
                client.publish(message)  # returns once the broker confirmed it
                return
            except Exception as exc:  # closed connection, refused connect, nack: reconnect, retry
                self.errors[type(exc).__name__] += 1
                self.retries += 1
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
                self._clients[sender] = None
                if time.monotonic() > deadline or self.stopping.is_set():
                    raise
                time.sleep(0.2)
