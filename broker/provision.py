"""Provisioning: one RabbitMQ user per participant, its inbox, and least-privilege permissions.

Each participant may write to rb.inbound only and read its own inbox only; it can declare nothing.
The router's user may do what routing needs and carries the `impersonator` tag, so the copies it
delivers keep the original sender's validated user_id (https://www.rabbitmq.com/docs/validated-user-id).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from kombu import Connection

from broker.domain.address import Address
from broker.participants import SYSTEM, Participants
from broker.settings import Settings
from broker.transport import topology
from broker.transport.management import Management

ROUTER_USER = "referral-router"
"""The router's RabbitMQ user (after RB_USER_PREFIX)."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def participant_permissions(address: Address) -> Permissions:
    read = f"^{re.escape(topology.inbox_name(address))}$"
    if address == SYSTEM:
        # the tracker: it also consumes the decision records
        read = f"{read}|^{re.escape(topology.TRACKER_QUEUE)}$"
    return Permissions(configure="^$", write=f"^{re.escape(topology.INBOUND_EXCHANGE)}$", read=read)


ROUTER_PERMISSIONS = Permissions(configure=r"^rb\..*", write=r"^rb\..*", read=r"^rb\..*")


@dataclass
class ProvisionReport:
    created: dict[str, str] = field(default_factory=dict)
    """New users and their generated passwords."""
    updated: list[str] = field(default_factory=list)
    inboxes: int = 0


def provision(
    settings: Settings,
    participants: Participants,
    rotate_passwords: bool = False,
    inbox_length: int = topology.DEFAULT_INBOX_LENGTH,
    progress: bool = False,
) -> ProvisionReport:
    """Create or update users, permissions and inboxes for every participant. Idempotent."""
    report = ProvisionReport()
    vhost = settings.vhost
    with Connection(settings.amqp_url) as conn:
        report.inboxes = topology.declare(conn, list(participants), inbox_length) - len(
            topology.core_entities()
        )
    with Management(settings) as api:
        router = f"{participants.user_prefix}{ROUTER_USER}"
        users = [(router, "impersonator", ROUTER_PERMISSIONS)] + [
            (participants.username(a), "", participant_permissions(a)) for a in participants
        ]
        for number, (user, tags, perms) in enumerate(users, start=1):
            if rotate_passwords or not api.user_exists(user):
                password = secrets.token_urlsafe(24)
                api.put_user(user, password, tags)
                report.created[user] = password
            else:
                api.set_tags(user, tags)
                report.updated.append(user)
            api.set_permissions(vhost, user, perms.configure, perms.write, perms.read)
            if progress and number % 50 == 0:
                print(f"provisioned {number}/{len(users)} users", flush=True)
    return report


def deprovision(settings: Settings, participants: Participants) -> None:
    """Remove the users of these participants and the router (inboxes are left to the vhost's owner)."""
    with Management(settings) as api:
        api.delete_user(f"{participants.user_prefix}{ROUTER_USER}")
        for address in participants:
            api.delete_user(participants.username(address))
