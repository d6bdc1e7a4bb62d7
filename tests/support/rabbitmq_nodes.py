"""RabbitMQ nodes of the test suite's own, on this machine: one node, or a cluster of three.

The nodes are the tools' (broker/tools/nodes.py: own name, ports, config, data, cookie and
open-file limit; never the shared node's name or ports; signalled by the PID each wrote). This adds
the tests' options: a cluster whose nodes join each other at first boot (classic-config peer
discovery) and share one cookie, and TLS. Faults are real: `kill()` sends SIGKILL to the node's
Erlang VM, `start()` brings it back on the same data.

With `tls=NodeTls(...)` a node listens for AMQP over TLS only (no plain listener), verifies
client certificates against the given CA, lets a certificate's CN log in (EXTERNAL, plugin
rabbitmq_auth_mechanism_ssl) beside passwords, and serves its management API over HTTPS.

Teardown stops the nodes and deletes their directories.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from broker.settings import Settings, TlsSettings
from broker.tools import nodes
from broker.tools.nodes import CLI_DIST_OFFSET, HOST, SHARED_NODE_PORTS, NodeError, available
from broker.transport.tls import client_context

__all__ = [
    "CLI_DIST_OFFSET",
    "SHARED_NODE_PORTS",
    "NodeError",
    "NodeTls",
    "RabbitCluster",
    "RabbitNode",
    "available",
    "rabbitmq_cluster",
    "rabbitmq_node",
]


@dataclass(frozen=True)
class NodeTls:
    """The node's TLS files: the CA it trusts for client certificates, and its own certificate."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(eq=False)
class RabbitNode(nodes.RabbitNode):
    """One node. `peers` (every node's name, this one's included) makes it join them at first boot
    (classic-config peer discovery)."""

    peers: tuple[str, ...] = ()
    tls: NodeTls | None = None
    extra_plugins: tuple[str, ...] = ()
    """Plugins beside the tools' own (e.g. rabbitmq_consistent_hash_exchange for sharding)."""

    # ---- addresses ----

    @property
    def schemes(self) -> tuple[str, str]:
        return ("amqps", "https") if self.tls else ("amqp", "http")

    @property
    def client_tls(self) -> TlsSettings:
        """What a client needs to trust this node (its CA), without a certificate of its own."""
        return TlsSettings(ca_file=str(self.tls.ca_file) if self.tls else "", cert_file="", key_file="")

    def http_verify(self) -> ssl.SSLContext | bool:
        return client_context(self.client_tls) if self.tls else True

    # ---- files and environment ----

    def config_lines(self) -> list[str]:
        lines = super().config_lines()
        if len(self.peers) > 1:
            lines.append("cluster_formation.peer_discovery_backend = classic_config")
            lines += [
                f"cluster_formation.classic_config.nodes.{n} = {peer}" for n, peer in enumerate(self.peers, 1)
            ]
        return lines

    def listener_lines(self) -> list[str]:
        """As deploy/rabbitmq/rabbitmq.conf's production listeners, on this node's own ports."""
        if self.tls is None:
            return super().listener_lines()
        files = [
            f"cacertfile = {self.tls.ca_file}",
            f"certfile = {self.tls.cert_file}",
            f"keyfile = {self.tls.key_file}",
        ]
        return [
            "listeners.tcp = none",
            f"listeners.ssl.default = 127.0.0.1:{self.amqp_port}",
            *(f"ssl_options.{line}" for line in files),
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = false",
            "ssl_options.versions.1 = tlsv1.3",
            "ssl_options.versions.2 = tlsv1.2",
            "auth_mechanisms.1 = EXTERNAL",
            "auth_mechanisms.2 = PLAIN",
            "auth_mechanisms.3 = AMQPLAIN",
            "ssl_cert_login_from = common_name",
            f"management.ssl.port = {self.management_port}",
            "management.ssl.ip = 127.0.0.1",
            *(f"management.ssl.{line}" for line in files),
        ]

    def plugins(self) -> tuple[str, ...]:
        tls = ("rabbitmq_auth_mechanism_ssl",) if self.tls else ()
        return (*super().plugins(), *tls, *self.extra_plugins)

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.tls:
            del env["RABBITMQ_NODE_PORT"]  # it would add a plain TCP listener
        return env


class RabbitCluster:
    """`size` nodes under one temporary directory (size 1: a single node)."""

    def __init__(
        self, size: int = 3, label: str = "test", tls: NodeTls | None = None, plugins: tuple[str, ...] = ()
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"rb-{label}-rabbit-"))
        self.home = nodes.new_home(self.root)
        stem = nodes.node_name(label)
        names = tuple(f"{stem}-{n}@{HOST}" for n in range(1, size + 1))
        self.nodes: list[RabbitNode] = []
        for n, name in enumerate(names):
            first = nodes.node_ports()  # AMQP, management, distribution
            self.nodes.append(
                RabbitNode(
                    name=name,
                    amqp_port=first,
                    management_port=first + 1,
                    dist_port=first + 2,
                    directory=self.root / f"node{n + 1}",
                    home=self.home,
                    peers=names if size > 1 else (),
                    tls=tls,
                    extra_plugins=plugins,
                )
            )

    def start(self) -> None:
        """The first node, then the others, which join it; returns when all run as one cluster."""
        first, *others = self.nodes
        first.start()
        first.wait_running()
        for node in others:
            node.start()
        for node in others:
            node.wait_running()
        if others:
            self.wait_clustered()

    def wait_clustered(self, timeout: float = 60.0) -> None:
        """Until every node is running and each sees all of them."""
        deadline = time.monotonic() + timeout
        wanted = {n.name for n in self.nodes}
        while True:
            running = self.running_node_names()
            if running == wanted:
                return
            if time.monotonic() > deadline:
                raise NodeError(f"cluster not formed: running {sorted(running)} of {sorted(wanted)}")
            time.sleep(0.5)

    def running_node_names(self) -> set[str]:
        try:
            listing = self.api("/api/nodes")
        except (httpx.HTTPError, NodeError):
            return set()
        return {n["name"] for n in listing if n.get("running")}

    def node(self, name: str) -> RabbitNode:
        return next(n for n in self.nodes if n.name == name)

    def up(self) -> list[RabbitNode]:
        return [n for n in self.nodes if n.is_up()]

    def settings(self, vhost: str = "/") -> Settings:
        """The administrator on the first running node."""
        return self.up()[0].settings(vhost)

    def amqp_urls(self, user: str = "guest", password: str = "guest", vhost: str = "/") -> list[str]:
        return [n.amqp_url(user, password, vhost) for n in self.nodes]

    def failover_url(
        self, user: str = "guest", password: str = "guest", vhost: str = "/", first: int = 0
    ) -> str:
        """Every node's address in one URL, `;`-separated (RB_AMQP_URL's list), starting with node
        number `first` (from 0), so that clients can be spread over the nodes."""
        urls = self.amqp_urls(user, password, vhost)
        return ";".join(urls[first:] + urls[:first])

    # ---- what the management API says ----

    def api(self, path: str) -> Any:
        """GET from the management API of the first node that answers."""
        errors = []
        for node in self.up():
            try:
                return node.api(path, timeout=5)
            except httpx.HTTPError as exc:
                errors.append(f"{node.name}: {exc}")
        raise NodeError(f"no management API answered {path}: {errors}")

    def queue_node(self, vhost: str, queue: str) -> RabbitNode:
        """The node holding a queue: a quorum queue's leader, or a classic queue's only node."""
        info = self.api(f"/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}")
        return self.node(info.get("leader") or info["node"])

    def connection_nodes(self, user: str) -> list[RabbitNode]:
        """The nodes a user's connections are open on."""
        names = {c["node"] for c in self.api("/api/connections") if c.get("user") == user}
        return [n for n in self.nodes if n.name in names]

    # ---- teardown ----

    def stop(self) -> None:
        """Stop every node (by its PID) and delete the directories."""
        for node in self.nodes:
            node.terminate()  # all at once: a node stopping alone waits for its peers' goodbyes
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def rabbitmq_cluster(
    size: int = 3, label: str = "test", tls: NodeTls | None = None, plugins: tuple[str, ...] = ()
) -> Iterator[RabbitCluster]:
    """Own RabbitMQ nodes, started and clustered; stopped and deleted afterwards."""
    cluster = RabbitCluster(size, label, tls, plugins)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def rabbitmq_node(
    label: str = "test", tls: NodeTls | None = None, plugins: tuple[str, ...] = ()
) -> Iterator[RabbitNode]:
    """One own RabbitMQ node, stopped and deleted afterwards."""
    with rabbitmq_cluster(1, label, tls, plugins) as cluster:
        yield cluster.nodes[0]
