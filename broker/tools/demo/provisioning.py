"""Participants for the demo: users, permissions and inboxes, as broker.transport.provision makes them.

With quorum inboxes it is broker.transport.provision.provision itself. With classic inboxes (the default) it
does the same steps, except that each inbox is a classic queue with the same arguments (dead-letter
exchange, length limit, reject-publish). Why: on a RabbitMQ whose file-descriptor limit is the
common default of 1,024 (this machine's: "approx 927 file handles"), about a hundred quorum queues
exhaust the file handles and the node stops accepting connections, for every vhost. The demo's
166 inboxes would take the whole broker down; classic queues keep it to the six core queues.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

import pika
from kombu import Connection

from broker.domain.address import Address
from broker.limits import DEFAULT_LIMITS
from broker.participants import Participants
from broker.settings import Settings
from broker.transport import topology
from broker.transport.client import connection_parameters
from broker.transport.management import Management
from broker.transport.provision import ROUTER_PERMISSIONS, ROUTER_USER, participant_permissions, provision


class InboxType(StrEnum):
    CLASSIC = "classic"
    QUORUM = "quorum"


def declare_classic_inboxes(url: str, addresses: list[Address], secret: str) -> None:
    """Each inbox as topology.inbox_queue declares it, but a classic queue (the same arguments)."""
    arguments = topology.QueueArguments(queue_type="classic", max_length=topology.DEFAULT_INBOX_LENGTH)
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        for address in addresses:
            name = topology.inbox_name(address, secret)
            channel.queue_declare(name, durable=True, arguments=arguments.as_arguments())
            channel.queue_bind(name, topology.DELIVER_EXCHANGE, str(address))
    finally:
        connection.close()


def provision_demo(settings: Settings, participants: Participants, inboxes: InboxType) -> dict[str, str]:
    """Create the topology, users, permissions and inboxes; returns every user's new password."""
    if inboxes is InboxType.QUORUM:
        return dict(provision(settings, participants).created)
    connect: Any = Connection  # kombu is untyped; mypy lets only the transport modules call it directly
    with connect(settings.amqp_url) as conn:
        topology.declare(conn)  # the core topology, exactly as provision declares it
    declare_classic_inboxes(settings.amqp_url, list(participants), settings.inbox_secret)
    passwords: dict[str, str] = {}
    with Management(settings) as api:
        router = f"{participants.user_prefix}{ROUTER_USER}"
        users = [(router, "impersonator", ROUTER_PERMISSIONS)] + [
            (participants.username(a), "", participant_permissions(a, settings.inbox_secret))
            for a in participants
        ]
        for user, tags, perms in users:
            passwords[user] = secrets.token_urlsafe(24)
            api.put_user(user, passwords[user], tags)
            api.set_permissions(settings.vhost, user, perms.configure, perms.write, perms.read)
            if user != router:
                api.set_user_limit(user, "max-connections", DEFAULT_LIMITS.max_connections)
                api.set_user_limit(user, "max-channels", DEFAULT_LIMITS.max_channels)
    return passwords
