"""Provisioning: one RabbitMQ user per participant, its inbox, and least-privilege permissions.

Each participant may write to rb.inbound only and read its own inbox only; it can declare nothing.
Its inbox's name carries a token made from the deployment's inbox secret (topology.inbox_name), so
no other participant can find it, and the participant learns it from its credentials entry. Each
participant's user has limits on connections and channels (https://www.rabbitmq.com/docs/user-limits).
The router's user may do what routing needs and carries the `impersonator` tag, so the copies it
delivers keep the original sender's validated user_id (https://www.rabbitmq.com/docs/validated-user-id).
The operator's user may read the routing log and the two holding queues (rb.quarantine,
rb.dead-letter) and declare only its own server-named queues; it has no tag, so no HTTP API either.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from kombu import Connection

from broker.credentials import inbox_secret
from broker.domain.address import Address
from broker.limits import DEFAULT_LIMITS, UserLimits
from broker.participants import SYSTEM, Participants
from broker.settings import Settings
from broker.transport import topology
from broker.transport.management import Management
from broker.transport.tls import kombu_options

ROUTER_USER = "referral-router"
"""The router's RabbitMQ user (after RB_USER_PREFIX)."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def participant_permissions(address: Address, secret: str) -> Permissions:
    read = f"^{re.escape(topology.inbox_name(address, secret))}$"
    if address == SYSTEM:
        # the tracker: it also consumes the decision records
        read = f"{read}|^{re.escape(topology.TRACKER_QUEUE)}$"
    return Permissions(configure="^$", write=f"^{re.escape(topology.INBOUND_EXCHANGE)}$", read=read)


OPERATOR_USER = "referral-operator"
"""Operators' RabbitMQ user (after RB_USER_PREFIX): `tail`, `quarantine`, `dead-letter list`."""

OPERATOR_PERMISSIONS = Permissions(
    # its own server-named queue for `tail` (declared, bound to the routing log, read): nothing else
    configure=r"^amq\.gen-.*",
    write=r"^amq\.gen-.*",
    # the routing log (to bind), the two holding queues (to look at and discard); no inbox, and
    # writing nowhere: it cannot publish, so it cannot replay or speak for anyone
    read=rf"^({re.escape(topology.ROUTING_LOG)}|{re.escape(topology.QUARANTINE)}|"
    rf"{re.escape(topology.DEAD_LETTER_QUEUE)}|amq\.gen-.*)$",
)

ROUTER_PERMISSIONS = Permissions(
    configure=r"^rb\..*",
    write=r"^(rb\..*|amq\.default)$",  # the default exchange: parking in rb.router.retry, `mandatory`
    read=r"^rb\..*",
)


@dataclass
class ProvisionReport:
    created: dict[str, str] = field(default_factory=dict)
    """New users and their generated passwords."""
    updated: list[str] = field(default_factory=list)
    inboxes: int = 0
    handover: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per user, what its credentials entry gets: address and inbox name for participants, and the
    password when one was set now."""
    legacy_inboxes: list[str] = field(default_factory=list)
    """Inboxes still under the guessable names of earlier versions (`rb.inbox.<address>`)."""


def provision(
    settings: Settings,
    participants: Participants,
    rotate_passwords: bool = False,
    inbox_length: int = topology.DEFAULT_INBOX_LENGTH,
    progress: bool = False,
    limits: UserLimits | None = DEFAULT_LIMITS,
    inbox_type: topology.InboxType = "quorum",
) -> ProvisionReport:
    """Create or update users, permissions, limits and inboxes for every participant. Idempotent.
    limits=None leaves users' limits as they are. Raises CredentialsError when the deployment's
    inbox secret is not configured."""
    secret = inbox_secret(settings.inbox_secret, settings.inbox_secret_file)
    report = ProvisionReport()
    vhost = settings.vhost
    with Connection(settings.amqp_url, **kombu_options(settings.amqp_url)) as conn:
        shards = settings.router_shards
        declared = topology.declare(conn, list(participants), inbox_length, secret, inbox_type, shards)
        report.inboxes = declared - len(topology.core_entities(shards))
    with Management(settings) as api:
        router = f"{participants.user_prefix}{ROUTER_USER}"
        operator = f"{participants.user_prefix}{OPERATOR_USER}"
        users: list[tuple[str, str, Permissions, Address | None]] = [
            (router, "impersonator", ROUTER_PERMISSIONS, None),
            (operator, "", OPERATOR_PERMISSIONS, None),
        ] + [(participants.username(a), "", participant_permissions(a, secret), a) for a in participants]
        for number, (user, tags, perms, address) in enumerate(users, start=1):
            entry = report.handover.setdefault(user, {})
            if rotate_passwords or not api.user_exists(user):
                password = secrets.token_urlsafe(24)
                api.put_user(user, password, tags)
                report.created[user] = entry["password"] = password
            else:
                api.set_tags(user, tags)
                report.updated.append(user)
            api.set_permissions(vhost, user, perms.configure, perms.write, perms.read)
            if address is not None:
                entry.update(address=str(address), inbox=topology.inbox_name(address, secret))
                if limits is not None:
                    api.set_user_limit(user, "max-connections", limits.max_connections)
                    api.set_user_limit(user, "max-channels", limits.max_channels)
            if progress and number % 50 == 0:
                print(f"provisioned {number}/{len(users)} users", flush=True)
        legacy = {f"{topology.INBOX_PREFIX}{a}" for a in participants}
        found = api.queue_names(vhost, f"^{re.escape(topology.INBOX_PREFIX)}")
        report.legacy_inboxes = sorted(name for name in found if name in legacy)
    return report


def deprovision(settings: Settings, participants: Participants) -> None:
    """Remove the users of these participants and the router (inboxes are left to the vhost's owner)."""
    with Management(settings) as api:
        api.delete_user(f"{participants.user_prefix}{ROUTER_USER}")
        api.delete_user(f"{participants.user_prefix}{OPERATOR_USER}")
        for address in participants:
            api.delete_user(participants.username(address))
