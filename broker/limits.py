"""RabbitMQ's per-user limits for participants (https://www.rabbitmq.com/docs/user-limits), set by
`provision`: one participant cannot exhaust the broker's connections or channels for the others."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_CONNECTIONS = 10
"""Connections one participant's user may hold at once (max-connections): a few processes, each
with a connection, and room for reconnects that overlap the old connection's timeout."""
DEFAULT_MAX_CHANNELS = 40
"""Channels one participant's user may hold over all its connections (max-channels); the client
library uses one per connection."""


@dataclass(frozen=True)
class UserLimits:
    """The limits of each participant's user; the router's own user has none."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_channels: int = DEFAULT_MAX_CHANNELS


DEFAULT_LIMITS = UserLimits()
