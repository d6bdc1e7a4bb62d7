"""Configuration from the environment, in one place. Every variable has a default for a local broker.

RB_AMQP_URL names one broker address or several, the nodes of one cluster, separated by commas or
semicolons: `amqp://u:p@rabbit-1:5672/vh,amqp://u:p@rabbit-2:5672/vh`. Every component tries them
in order and connects to the first live one (kombu's failover for the workers, `declare`,
`provision` and `tail`; a list of pika URLParameters for the client library, `publish` and the
tracker's notices). All addresses must name the same user, password and vhost: they are one broker.

`amqps://` addresses speak TLS and always verify the broker's certificate and host name, against
RB_TLS_CA_FILE (the deployment's CA) or, without it, the system's trust store. RB_TLS_CERT_FILE and
RB_TLS_KEY_FILE are this component's client certificate; with one configured and no password in
the address, the component logs in with it (RabbitMQ's EXTERNAL mechanism: the user is the
certificate's CN) instead of a password. TLS settings next to a plain `amqp://` address are refused,
so a forgotten `s` cannot silently send cases in clear. TlsSettings holds them; the kombu and pika
forms are built from it in broker/transport/tls.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
"""RB_AMQP_URL: the broker. The default is a RabbitMQ on this machine with its stock user."""

DEFAULT_DATABASE_URL = "sqlite:///referral-broker.sqlite3"
"""RB_DATABASE_URL: where the router remembers routed messages (SQLAlchemy URL)."""

MANAGEMENT_PORT = 15672
"""Port of RabbitMQ's HTTP API on each node, when RB_MANAGEMENT_URL does not name it."""
MANAGEMENT_TLS_PORT = 15671
"""The same over HTTPS (`management.ssl.port`), for a broker reached by amqps://."""

_SEPARATOR = re.compile(r"\s*[,;]\s*(?=amqps?://)")
"""A comma or semicolon only where the next address begins: a password may hold either."""


class SettingsError(ValueError):
    """A setting is malformed; the message names the variable and the reason, never a password."""


def broker_addresses(url: str, variable: str = "RB_AMQP_URL") -> tuple[str, ...]:
    """The addresses in a broker URL list, in order, each checked: amqp or amqps, and every one
    with the same user, password and vhost as the first."""
    addresses = tuple(a for a in _SEPARATOR.split(url.strip()) if a)
    if not addresses:
        raise SettingsError(f"{variable}: no broker address given")
    first = urlsplit(addresses[0])
    for number, address in enumerate(addresses, start=1):
        parts = urlsplit(address)
        if parts.scheme not in ("amqp", "amqps"):
            raise SettingsError(
                f"{variable}: address {number} must start with amqp:// or amqps:// (several are "
                "separated by commas or semicolons)"
            )
        if not parts.hostname:
            raise SettingsError(f"{variable}: address {number} names no host")
        try:
            _ = parts.port  # urllib raises here for a port that is not a number
        except ValueError:
            raise SettingsError(f"{variable}: address {number} has a port that is not a number") from None
        for what, mine, theirs in (
            ("user", parts.username, first.username),
            ("password", parts.password, first.password),
            ("vhost", parts.path.lstrip("/"), first.path.lstrip("/")),
        ):
            if mine != theirs:
                raise SettingsError(
                    f"{variable}: address {number} has another {what} than address 1; every address "
                    "must be a node of the same broker, with the same user, password and vhost"
                )
    return addresses


BODIES_MODES = ("sealed", "transitional")


@dataclass(frozen=True)
class SealingSettings:
    """Sealed bodies (broker/sealing/, README "Sealed bodies"). RB_BODIES=sealed, the default, has the
    router take sealed bodies only; `transitional` also takes plaintext ones, which the router reads:
    a documented mode for participants not sealing yet, off in deploy/'s production configuration."""

    bodies: str = field(default_factory=lambda: _env("RB_BODIES", "sealed"))
    suite: str = field(default_factory=lambda: _env("RB_SEALING_SUITE", "international"))
    """RB_SEALING_SUITE: international (X25519, AES-GCM, Ed25519) or national (SM2, SM3, SM4)."""
    key_directory: str = field(default_factory=lambda: _env("RB_KEY_DIRECTORY", ""))
    """RB_KEY_DIRECTORY: the signed key directory `provision` or `keys directory build` wrote."""
    deployment_public_key: str = field(default_factory=lambda: _env("RB_DEPLOYMENT_PUBLIC_KEY", ""))
    """RB_DEPLOYMENT_PUBLIC_KEY: the deployment key's public file, which the directory's signature is
    checked against."""
    keyring: str = field(default_factory=lambda: _env("RB_KEYRING", ""))
    """RB_KEYRING: a participant's own key ring (mode 600), for `publish` and `police-example` to seal
    what they send and open what they receive."""

    def __post_init__(self) -> None:
        if self.bodies not in BODIES_MODES:
            raise SettingsError(f"RB_BODIES: {self.bodies[:20]!r}; give sealed or transitional")
        if self.keyring and not self.key_directory:
            raise SettingsError("RB_KEY_DIRECTORY: needed beside RB_KEYRING, to seal for recipients' keys")
        if self.key_directory and not self.deployment_public_key:
            raise SettingsError(
                "RB_DEPLOYMENT_PUBLIC_KEY: needed beside RB_KEY_DIRECTORY, to check the directory's signature"
            )

    @property
    def plaintext(self) -> bool:
        return self.bodies == "transitional"

    def check_router(self) -> None:
        """The router needs a directory unless it takes plaintext bodies (the transitional mode)."""
        if not self.plaintext and not self.key_directory:
            raise SettingsError(
                "RB_KEY_DIRECTORY: not set, and RB_BODIES=sealed (the default) takes sealed bodies only, "
                "which the router checks against the key directory; set it and RB_DEPLOYMENT_PUBLIC_KEY, "
                "or RB_BODIES=transitional to take plaintext bodies while participants move to sealing"
            )


MAX_SHARDS = 64
"""More shards than routers is no use; this bound keeps a typo from declaring thousands of queues."""


def shard_count(text: str, variable: str = "RB_ROUTER_SHARDS") -> int:
    try:
        count = int(text)
    except ValueError:
        raise SettingsError(f"{variable}: {text[:20]!r} is not a whole number of shards") from None
    if not 1 <= count <= MAX_SHARDS:
        raise SettingsError(f"{variable}: {count} shards; give 1 (unsharded) to {MAX_SHARDS}")
    return count


def failover_url(url: str) -> str:
    """The broker URL list in kombu's own failover form (addresses joined by `;`)."""
    return ";".join(broker_addresses(url))


def with_query(url: str, query: str) -> str:
    """Every address of a broker URL list with `query` (e.g. `heartbeat=600`) added to it."""
    joined = []
    for address in broker_addresses(url, "url"):
        joined.append(f"{address}{'&' if '?' in address else '?'}{query}")
    return ";".join(joined)


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class TlsSettings:
    """How this component speaks TLS to the broker and its management API (see the module's docstring)."""

    ca_file: str = field(default_factory=lambda: _env("RB_TLS_CA_FILE", ""))
    """RB_TLS_CA_FILE: PEM file of the CA(s) that sign the broker's certificates; empty: the
    system's trust store."""
    cert_file: str = field(default_factory=lambda: _env("RB_TLS_CERT_FILE", ""))
    """RB_TLS_CERT_FILE: PEM file of this component's client certificate (its chain may follow)."""
    key_file: str = field(default_factory=lambda: _env("RB_TLS_KEY_FILE", ""), repr=False)
    """RB_TLS_KEY_FILE: PEM file of that certificate's private key (unencrypted)."""
    server_name: str = field(default_factory=lambda: _env("RB_TLS_SERVER_NAME", ""))
    """RB_TLS_SERVER_NAME: the name the broker's certificates carry, when it is not the host in
    each address (e.g. a shared name every node's certificate holds)."""

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            given, missing = ("RB_TLS_CERT_FILE", "RB_TLS_KEY_FILE")
            if not self.cert_file:
                given, missing = missing, given
            raise SettingsError(f"{missing}: must be set together with {given} (a certificate and its key)")
        for variable, path in (
            ("RB_TLS_CA_FILE", self.ca_file),
            ("RB_TLS_CERT_FILE", self.cert_file),
            ("RB_TLS_KEY_FILE", self.key_file),
        ):
            if path and not os.access(path, os.R_OK):
                raise SettingsError(f"{variable}: the file does not exist or cannot be read")

    @property
    def configured(self) -> bool:
        return bool(self.ca_file or self.cert_file or self.server_name)

    def login_external(self, address: str) -> bool:
        """Whether to log in to `address` with the client certificate (EXTERNAL): a certificate is
        configured and the address holds no password."""
        return bool(self.cert_file) and urlsplit(address).password is None

    def check(self, addresses: tuple[str, ...], variable: str = "RB_AMQP_URL") -> None:
        """Refuse TLS settings next to a plain address: that address would carry cases in clear."""
        if not self.configured:
            return
        for number, address in enumerate(addresses, start=1):
            if urlsplit(address).scheme != "amqps":
                raise SettingsError(
                    f"{variable}: address {number} is plain amqp:// but RB_TLS_* settings are given; "
                    "use amqps:// (TLS, port 5671)"
                )


@dataclass(frozen=True)
class Settings:
    amqp_url: str = field(default_factory=lambda: _env("RB_AMQP_URL", DEFAULT_AMQP_URL))
    """RB_AMQP_URL: one address or several (see the module's docstring); kept in kombu's failover
    form, so `kombu.Connection(settings.amqp_url)` fails over by itself."""
    management_url: str = field(default_factory=lambda: _env("RB_MANAGEMENT_URL", ""))
    """RB_MANAGEMENT_URL: RabbitMQ's HTTP API, one URL or several separated by commas; by default
    each AMQP host on port 15672."""
    database_url: str = field(default_factory=lambda: _env("RB_DATABASE_URL", DEFAULT_DATABASE_URL))
    user_prefix: str = field(default_factory=lambda: _env("RB_USER_PREFIX", ""))
    """RB_USER_PREFIX: prefix of participants' RabbitMQ user names, so several deployments can
    share one broker (the tests use it); empty in production."""
    participants_file: str = field(default_factory=lambda: _env("RB_PARTICIPANTS", "participants.txt"))
    """RB_PARTICIPANTS: the file listing provisioned participants, one address a line."""
    inbox_secret: str = field(default_factory=lambda: _env("RB_INBOX_SECRET", ""), repr=False)
    """RB_INBOX_SECRET: the deployment's inbox secret, which makes inbox names unguessable
    (topology.inbox_name); only `provision` and administrators' tools need it."""
    inbox_secret_file: str = field(default_factory=lambda: _env("RB_INBOX_SECRET_FILE", ""))
    """RB_INBOX_SECRET_FILE: a file (mode 600) holding the inbox secret, when RB_INBOX_SECRET is empty."""
    tls: TlsSettings = field(default_factory=TlsSettings)
    """RB_TLS_*: CA, client certificate and key for amqps:// and the management API over HTTPS."""
    router_shards: int = field(default_factory=lambda: shard_count(_env("RB_ROUTER_SHARDS", "1")))
    """RB_ROUTER_SHARDS: how many shards the router's input is split into by case (1: one queue,
    rb.router.inbound); `provision` declares them and each `route --shard K` consumes one."""

    sealing: SealingSettings = field(default_factory=lambda: SealingSettings())
    """RB_BODIES, RB_SEALING_SUITE, RB_KEY_DIRECTORY, RB_DEPLOYMENT_PUBLIC_KEY: sealed bodies."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "amqp_url", failover_url(self.amqp_url))
        self.tls.check(self.amqp_urls)

    @property
    def amqp_urls(self) -> tuple[str, ...]:
        """Every broker address, in the order they are tried."""
        return tuple(self.amqp_url.split(";"))

    @property
    def vhost(self) -> str:
        path = urlsplit(self.amqp_urls[0]).path
        return unquote(path[1:]) if len(path) > 1 else "/"

    @property
    def admin_credentials(self) -> tuple[str, str]:
        parts = urlsplit(self.amqp_urls[0])
        return unquote(parts.username or "guest"), unquote(parts.password or "guest")

    @property
    def api_urls(self) -> tuple[str, ...]:
        """RabbitMQ's HTTP API on every node, tried in order."""
        if self.management_url:
            return tuple(u.strip().rstrip("/") for u in self.management_url.split(",") if u.strip())
        urls = []
        for address in self.amqp_urls:
            parts = urlsplit(address)
            tls = parts.scheme == "amqps"
            scheme, port = ("https", MANAGEMENT_TLS_PORT) if tls else ("http", MANAGEMENT_PORT)
            urls.append(f"{scheme}://{_host(parts.hostname)}:{port}")
        return tuple(dict.fromkeys(urls))

    @property
    def api_url(self) -> str:
        """The first node's HTTP API."""
        return self.api_urls[0]

    def in_vhost(self, vhost: str) -> Settings:
        """The same broker and user, on another vhost."""
        path = "/" + quote(vhost, safe="")
        urls = []
        for address in self.amqp_urls:
            parts = urlsplit(address)
            urls.append(urlunsplit((parts.scheme, parts.netloc, path, "", "")))
        return replace(self, amqp_url=";".join(urls))

    def amqp_url_for(self, username: str, password: str | None) -> str:
        """The same broker addresses and vhost, connecting as another user; with password None,
        logging in with the client certificate (RB_TLS_CERT_FILE) whose CN is `username`."""
        vhost = quote(self.vhost, safe="")
        user = quote(username, safe="") + ("" if password is None else f":{quote(password, safe='')}")
        urls = []
        for address in self.amqp_urls:
            parts = urlsplit(address)
            port = f":{parts.port}" if parts.port else ""
            urls.append(f"{parts.scheme}://{user}@{_host(parts.hostname)}{port}/{vhost}")
        return ";".join(urls)


def _host(hostname: str | None) -> str:
    host = hostname or "127.0.0.1"
    return f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
