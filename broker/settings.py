"""Configuration from the environment, in one place. Every variable has a default for a local broker."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
"""RB_AMQP_URL: the broker. The default is a RabbitMQ on this machine with its stock user."""

DEFAULT_DATABASE_URL = "sqlite:///referral-broker.sqlite3"
"""RB_DATABASE_URL: where the router remembers routed messages (SQLAlchemy URL)."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class Settings:
    amqp_url: str = field(default_factory=lambda: _env("RB_AMQP_URL", DEFAULT_AMQP_URL))
    management_url: str = field(default_factory=lambda: _env("RB_MANAGEMENT_URL", ""))
    """RB_MANAGEMENT_URL: RabbitMQ's HTTP API; by default the AMQP host on port 15672."""
    database_url: str = field(default_factory=lambda: _env("RB_DATABASE_URL", DEFAULT_DATABASE_URL))
    user_prefix: str = field(default_factory=lambda: _env("RB_USER_PREFIX", ""))
    """RB_USER_PREFIX: prefix of participants' RabbitMQ user names, so several deployments can
    share one broker (the tests use it); empty in production."""
    participants_file: str = field(default_factory=lambda: _env("RB_PARTICIPANTS", "participants.txt"))
    """RB_PARTICIPANTS: the file listing provisioned participants, one address a line."""

    @property
    def vhost(self) -> str:
        path = urlsplit(self.amqp_url).path
        return unquote(path[1:]) if len(path) > 1 else "/"

    @property
    def admin_credentials(self) -> tuple[str, str]:
        parts = urlsplit(self.amqp_url)
        return unquote(parts.username or "guest"), unquote(parts.password or "guest")

    @property
    def api_url(self) -> str:
        if self.management_url:
            return self.management_url.rstrip("/")
        parts = urlsplit(self.amqp_url)
        scheme = "https" if parts.scheme == "amqps" else "http"
        return f"{scheme}://{parts.hostname or '127.0.0.1'}:15672"

    def in_vhost(self, vhost: str) -> Settings:
        """The same broker and user, on another vhost."""
        parts = urlsplit(self.amqp_url)
        path = "/" + quote(vhost, safe="")
        return replace(self, amqp_url=urlunsplit((parts.scheme, parts.netloc, path, "", "")))

    def amqp_url_for(self, username: str, password: str) -> str:
        """The same broker and vhost, connecting as another user."""
        parts = urlsplit(self.amqp_url)
        host = parts.hostname or "127.0.0.1"
        port = f":{parts.port}" if parts.port else ""
        vhost = quote(self.vhost, safe="")
        return f"{parts.scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{host}{port}/{vhost}"
