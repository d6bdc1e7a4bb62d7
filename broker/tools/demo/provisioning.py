"""Participants for the demo: users, permissions and inboxes, made by broker.transport.provision.

The one difference is the inboxes' queue type: classic by default (the same arguments as quorum
inboxes), since a RabbitMQ with the common 1,024 file-descriptor limit (this machine's: "approx 927
file handles") stops accepting connections, for every vhost, at about a hundred quorum queues, and
the demo has 166 inboxes. `--inboxes quorum` provisions exactly as production does.
"""

from __future__ import annotations

from enum import StrEnum

from broker.limits import DEFAULT_LIMITS
from broker.participants import Participants
from broker.settings import Settings
from broker.transport import topology
from broker.transport.provision import provision


class InboxType(StrEnum):
    CLASSIC = "classic"
    QUORUM = "quorum"


def provision_demo(settings: Settings, participants: Participants, inboxes: InboxType) -> dict[str, str]:
    """Create the topology, users, permissions and inboxes; returns every user's new password."""
    inbox_type: topology.InboxType = "quorum" if inboxes is InboxType.QUORUM else "classic"
    report = provision(
        settings, participants, rotate_passwords=True, limits=DEFAULT_LIMITS, inbox_type=inbox_type
    )
    return dict(report.created)
