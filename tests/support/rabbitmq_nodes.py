"""RabbitMQ nodes of the test suite's own, on this machine: one node, or a cluster of three.

Each node is a `rabbitmq-server` with its own node name, AMQP, management and distribution ports,
config file, enabled-plugins file (management on), data and log directories in a temporary
directory, and an open-file limit raised in its shell (the shared node's 1,024 is too few for
quorum queues). The nodes of one harness share an Erlang cookie through a HOME of their own, which
the CLI tools (`rabbitmqctl -n`) are given too. Faults are real: `kill()` sends SIGKILL to the
node's Erlang VM, `start()` brings it back on the same data.

With `tls=NodeTls(...)` a node listens for AMQP over TLS only (no plain listener), verifies
client certificates against the given CA, lets a certificate's CN log in (EXTERNAL, plugin
rabbitmq_auth_mechanism_ssl) beside passwords, and serves its management API over HTTPS.

Nothing here touches the shared node on 5672: other names, other ports, another cookie, and every
process is signalled by the PID it wrote. Teardown stops the nodes and deletes their directories.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import ssl
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from broker.settings import Settings, TlsSettings
from broker.transport.tls import client_context
from tests.support.ports import free_block

HOST = "localhost"
"""Host part of the node names; the shared node's is the same, so one epmd serves all."""
OPEN_FILES = 65536
"""The open-file limit asked for in each node's shell; the hard limit is taken when it is lower."""
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
SHARED_NODE_PORTS = (5671, 5672, 15671, 15672, 25672)
"""The shared local node's AMQP, management and distribution ports: no node of the tests' own uses them."""

CLI_DIST_OFFSET = 10_000
"""RabbitMQ's CLI tools listen at the node's distribution port + 10000 (up to + 10010)."""

_SEARCH = ("/usr/lib/rabbitmq/bin",)
"""Where the server scripts are looked for before PATH: on Debian, /usr/sbin/rabbitmq-server is a
wrapper that switches to the rabbitmq user and its HOME (the shared node's cookie)."""

_live: set[RabbitNode] = set()


@dataclass(frozen=True)
class NodeTls:
    """The node's TLS files: the CA it trusts for client certificates, and its own certificate."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _script(name: str) -> str | None:
    for directory in _SEARCH:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def available() -> bool:
    """Whether this machine can start RabbitMQ nodes (rabbitmq-server and rabbitmqctl installed)."""
    return _script("rabbitmq-server") is not None and _script("rabbitmqctl") is not None


class NodeError(RuntimeError):
    pass


@dataclass(eq=False)
class RabbitNode:
    """One node. `peers` (every node's name, this one's included) makes it join them at first boot
    (classic-config peer discovery)."""

    name: str
    amqp_port: int
    management_port: int
    dist_port: int
    directory: Path
    home: Path
    peers: tuple[str, ...] = ()
    tls: NodeTls | None = None
    _shell: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _beam: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # every rabbitmqctl here runs with `-n self.name`: make sure that can never be the shared node
        if not self.name.startswith("rb-"):
            raise ValueError(f"{self.name}: not a node name of the tests' own (rb-...)")
        shared = {
            port
            for port in SHARED_NODE_PORTS
            if port in (self.amqp_port, self.management_port, self.dist_port)
        }
        if shared:
            raise ValueError(f"{self.name}: port {sorted(shared)} is the shared node's")

    # ---- addresses ----

    def amqp_url(self, user: str = "guest", password: str | None = "guest", vhost: str = "/") -> str:
        """amqps:// on a TLS node; password None: certificate login as `user`."""
        credentials = quote(user, safe="") + ("" if password is None else f":{quote(password, safe='')}")
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://{credentials}@127.0.0.1:{self.amqp_port}/{quote(vhost, safe='')}"

    @property
    def management_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.management_port}"

    @property
    def client_tls(self) -> TlsSettings:
        """What a client needs to trust this node (its CA), without a certificate of its own."""
        return TlsSettings(ca_file=str(self.tls.ca_file) if self.tls else "", cert_file="", key_file="")

    def settings(self, vhost: str = "/") -> Settings:
        """The administrator (guest, allowed from loopback) on this node."""
        return Settings(
            amqp_url=self.amqp_url(vhost=vhost),
            management_url=self.management_url,
            database_url="sqlite://",
            tls=self.client_tls,
        )

    def http_verify(self) -> ssl.SSLContext | bool:
        return client_context(self.client_tls) if self.tls else True

    # ---- files and environment ----

    def _config(self) -> str:
        lines = self._tls_config() if self.tls else self._plain_listeners()
        lines += [
            "collect_statistics_interval = 1000",  # the API sees new connections within a second
            "log.console = false",
            "log.file.level = info",
        ]
        if len(self.peers) > 1:
            lines.append("cluster_formation.peer_discovery_backend = classic_config")
            lines += [
                f"cluster_formation.classic_config.nodes.{n} = {peer}" for n, peer in enumerate(self.peers, 1)
            ]
        return "\n".join(lines) + "\n"

    def _plain_listeners(self) -> list[str]:
        return [
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
            f"management.tcp.port = {self.management_port}",
            "management.tcp.ip = 127.0.0.1",
        ]

    def _tls_config(self) -> list[str]:
        """As deploy/rabbitmq/rabbitmq.conf's production listeners, on this node's own ports."""
        assert self.tls is not None
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

    def _write_files(self) -> None:
        (self.directory / "mnesia").mkdir(parents=True, exist_ok=True)
        (self.directory / "log").mkdir(exist_ok=True)
        (self.directory / "rabbitmq.conf").write_text(self._config())
        plugins = "rabbitmq_management,rabbitmq_auth_mechanism_ssl" if self.tls else "rabbitmq_management"
        (self.directory / "enabled_plugins").write_text(f"[{plugins}].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")  # not the machine's /etc one

    def env(self) -> dict[str, str]:
        """The environment of this node's server and of CLI tools addressing it."""
        d = self.directory
        plain = {} if self.tls else {"RABBITMQ_NODE_PORT": str(self.amqp_port)}  # it would add a TCP listener
        inherited = {k: v for k, v in os.environ.items() if k != "RABBITMQ_NODE_PORT"}
        return {
            **inherited,
            **plain,
            "HOME": str(self.home),  # the harness's cookie, for the node and the CLI alike
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),  # none
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "beam.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    # ---- life cycle ----

    def start(self) -> None:
        """Start the node (returns at once; wait_running() waits for it). Same data on a restart."""
        if self.is_up():
            raise NodeError(f"{self.name} is already running")
        self._write_files()
        (self.directory / "beam.pid").unlink(missing_ok=True)
        server = _script("rabbitmq-server")
        assert server is not None, "rabbitmq-server is not installed"
        shell = f'ulimit -n {OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0"'
        with (self.directory / "server.out").open("ab") as out:
            self._shell = subprocess.Popen(
                ["bash", "-c", shell, server],
                env=self.env(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a signal to the tests is not one to it
            )
        self._beam = None
        _live.add(self)

    def wait_running(self, timeout: float = START_TIMEOUT_S) -> None:
        """Block until the node's broker application runs; raise with the log's end if it dies."""
        deadline = time.monotonic() + timeout
        while True:
            if self._shell is None or self._shell.poll() is not None:
                raise NodeError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if self._read_pid() is not None:
                try:
                    done = self.rabbitmqctl("await_startup", "--timeout", "10", check=False, timeout=30)
                except subprocess.TimeoutExpired:
                    pass  # rabbitmqctl itself starts slowly on a busy machine: ask again until the deadline
                else:
                    if done.returncode == 0:
                        self._beam = self._read_pid()
                        return
            if time.monotonic() > deadline:
                raise NodeError(f"{self.name} did not start within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def is_up(self) -> bool:
        """Whether this node's Erlang VM is running (not whether its broker application is)."""
        return self._shell is not None and self._shell.poll() is None

    @property
    def pid(self) -> int:
        """PID of the node's Erlang VM."""
        pid = self._beam or self._read_pid()
        if pid is None:
            raise NodeError(f"{self.name} has not written its PID")
        return pid

    def _read_pid(self) -> int | None:
        try:
            return int((self.directory / "beam.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the node's Erlang VM (a crash: no goodbye to peers or clients), and reap it."""
        os.kill(self.pid, signal.SIGKILL)
        self._reap(STOP_TIMEOUT_S)

    def terminate(self) -> None:
        """Ask the node to stop as its service manager would (SIGTERM to the VM); do not wait."""
        if not self.is_up():
            return
        pid = self._beam or self._read_pid()
        if pid is None:  # still booting: the shell passes it on
            self._signal_group(signal.SIGTERM)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the node and wait for it; SIGKILL when it takes longer than `timeout`."""
        self.terminate()
        self._reap(timeout)

    def _reap(self, timeout: float) -> None:
        if self._shell is not None:
            try:
                self._shell.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._shell.wait(timeout=10)
            self._signal_group(signal.SIGKILL)  # helpers left in its group (erl_child_setup)
        self._shell = None
        self._beam = None
        _live.discard(self)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._shell is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._shell.pid, sig)

    # ---- tools ----

    def rabbitmqctl(
        self, *args: str, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        ctl = _script("rabbitmqctl")
        assert ctl is not None, "rabbitmqctl is not installed"
        done = subprocess.run(
            [ctl, "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise NodeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: {done.stderr or done.stdout}")
        return done

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for path in [self.directory / "server.out", *sorted((self.directory / "log").glob("*.log"))]:
            with contextlib.suppress(OSError):
                texts.append(f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-lines:]))
        return "\n".join(texts)


class RabbitCluster:
    """`size` nodes under one temporary directory (size 1: a single node)."""

    def __init__(self, size: int = 3, label: str = "test", tls: NodeTls | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"rb-{label}-rabbit-"))
        self.home = self.root / "home"
        self.home.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(32)))
        cookie.chmod(0o400)
        tag = uuid.uuid4().hex[:6]
        names = tuple(f"rb-{label}-{tag}-{n}@{HOST}" for n in range(1, size + 1))
        self.nodes: list[RabbitNode] = []
        for n, name in enumerate(names):
            # per node: AMQP, management, distribution; the CLI's ports above the distribution port
            first = free_block(3, also=(CLI_DIST_OFFSET,))
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
                url, verify = f"{node.management_url}{path}", node.http_verify()
                response = httpx.get(url, auth=("guest", "guest"), timeout=5, verify=verify)
                response.raise_for_status()
                return response.json()
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
    size: int = 3, label: str = "test", tls: NodeTls | None = None
) -> Iterator[RabbitCluster]:
    """Own RabbitMQ nodes, started and clustered; stopped and deleted afterwards."""
    cluster = RabbitCluster(size, label, tls)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def rabbitmq_node(label: str = "test", tls: NodeTls | None = None) -> Iterator[RabbitNode]:
    """One own RabbitMQ node, stopped and deleted afterwards."""
    with rabbitmq_cluster(1, label, tls) as cluster:
        yield cluster.nodes[0]


@atexit.register
def _kill_leftovers() -> None:
    """A test run that is interrupted still leaves no node behind."""
    for node in list(_live):
        with contextlib.suppress(Exception):
            node._signal_group(signal.SIGKILL)
