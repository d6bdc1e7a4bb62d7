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
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from broker.settings import TlsSettings
from broker.tools import nodes
from broker.tools.nodes import CLI_DIST_OFFSET, SHARED_NODE_PORTS, NodeError, available
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
    """One node of the tools' (its `peers` make it join a cluster at first boot), with TLS when asked."""

    tls: NodeTls | None = None

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
        return (*super().plugins(), *tls)

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.tls:
            del env["RABBITMQ_NODE_PORT"]  # it would add a plain TCP listener
        return env


class RabbitCluster(nodes.RabbitCluster):
    """The tools' cluster (broker/tools/nodes.py) of this module's nodes, with TLS when asked."""

    def __init__(
        self, size: int = 3, label: str = "test", tls: NodeTls | None = None, plugins: tuple[str, ...] = ()
    ) -> None:
        super().__init__(size, label, plugins, node_class=RabbitNode, node_options={"tls": tls})


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
