"""Traffic through a deployment: a participant sends, another receives (or receives nothing), and a
test waits until the router has taken what was sent."""

from __future__ import annotations

import time

from broker.domain.messages import Message
from broker.transport.client import Delivered, ParticipantClient
from tests.support.deployment import Deployment


def receive(client: ParticipantClient, n: int = 1, timeout: float = 10.0) -> list[tuple[Message, Delivered]]:
    got: list[tuple[Message, Delivered]] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        client.consume(lambda m, d: got.append((m, d)), max_messages=n - len(got), idle_timeout_s=0.5)
    return got


def nothing_for(client: ParticipantClient, wait: float = 1.0) -> bool:
    return not receive(client, 1, timeout=wait)


def send(dep: Deployment, message: Message) -> Message:
    dep.client(message.envelope.sender).publish(message)
    return message


def wait_routed(dep: Deployment, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (
        dep.router.counters.routed + dep.router.counters.quarantined < count and time.monotonic() < deadline
    ):
        time.sleep(0.05)
