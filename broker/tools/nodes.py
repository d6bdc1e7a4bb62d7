"""RabbitMQ nodes of our own, on this machine, alone or as a cluster whose nodes join each other at
first boot (classic-config peer discovery): the benchmarks' and (tests/support/rabbitmq_nodes.py
adds TLS) the tests'.

Each node is a `rabbitmq-server` with its own node name, AMQP, management and distribution ports,
config file, enabled-plugins file (management on), data and log directories in a temporary
directory, and an open-file limit raised in its shell (the shared node's 1,024 stops it at about a
hundred quorum queues). Its Erlang cookie comes through a HOME of its own, which the CLI tools
(`rabbitmqctl -n`) are given too; the nodes of one cluster share it.

Nothing here touches the shared node on 5672: a node's name must start with `rb-` and none of its
ports may be the shared node's (every `rabbitmqctl` here runs with `-n` and the node's name), and
every process is signalled by the PID it wrote. Stopping a node deletes nothing; `own_node` deletes
its directory afterwards.
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
from broker.tools.ports import free_block

HOST = "localhost"
"""Host part of the node names; the shared node's is the same, so one epmd serves all."""
NAME_PREFIX = "rb-"
"""Every node name here starts with it; the shared node's (`rabbit@...`) does not."""
OPEN_FILES = 65536
"""The open-file limit asked for in each node's shell; the hard limit is taken when it is lower."""
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
SHARED_NODE_PORTS = (5671, 5672, 15671, 15672, 25672)
"""The shared local node's AMQP, management and distribution ports: no node of our own uses them."""
CLI_DIST_OFFSET = 10_000
"""RabbitMQ's CLI tools listen at the node's distribution port + 10000 (up to + 10010)."""

_SEARCH = ("/usr/lib/rabbitmq/bin",)
"""Where the server scripts are looked for before PATH: on Debian, /usr/sbin/rabbitmq-server is a
wrapper that switches to the rabbitmq user and its HOME (the shared node's cookie)."""

_live: set[RabbitNode] = set()


class NodeError(RuntimeError):
    pass


def _script(name: str) -> str:
    for directory in _SEARCH:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise NodeError(f"{name}: not installed; a RabbitMQ node of our own cannot be started")
    return found


def available() -> bool:
    """Whether this machine can start RabbitMQ nodes (rabbitmq-server and rabbitmqctl installed)."""
    try:
        _script("rabbitmq-server"), _script("rabbitmqctl")
    except NodeError:
        return False
    return True


def new_home(root: Path) -> Path:
    """A HOME under `root` with an Erlang cookie of its own, for the nodes that share it."""
    home = root / "home"
    home.mkdir(parents=True)
    cookie = home / ".erlang.cookie"
    cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(32)))
    cookie.chmod(0o400)
    return home


def node_ports() -> int:
    """The first of three free ports (AMQP, management, distribution), the CLI's ports free too."""
    return free_block(3, also=(CLI_DIST_OFFSET,))


def node_name(label: str) -> str:
    """A fresh node-name stem for `label` (a cluster numbers its nodes after it)."""
    return f"{NAME_PREFIX}{label}-{uuid.uuid4().hex[:6]}"


@dataclass(eq=False)
class RabbitNode:
    """One node on plain AMQP and HTTP; a subclass may change its listeners, plugins and config."""

    name: str
    amqp_port: int
    management_port: int
    dist_port: int
    directory: Path
    home: Path
    peers: tuple[str, ...] = ()
    """Every node name of its cluster, its own included: it joins them at first boot (classic-config
    peer discovery). Empty: a node alone."""
    extra_plugins: tuple[str, ...] = ()
    """Plugins beside management (e.g. rabbitmq_consistent_hash_exchange for router shards)."""
    _shell: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _beam: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.startswith(NAME_PREFIX):
            raise ValueError(f"{self.name}: not a node name of our own ({NAME_PREFIX}...)")
        ports = (self.amqp_port, self.management_port, self.dist_port)
        shared = {port for port in SHARED_NODE_PORTS if port in ports}
        if shared:
            raise ValueError(f"{self.name}: port {sorted(shared)} is the shared node's")

    # ---- addresses ----

    @property
    def schemes(self) -> tuple[str, str]:
        """The schemes of its AMQP and management listeners."""
        return "amqp", "http"

    def amqp_url(self, user: str = "guest", password: str | None = "guest", vhost: str = "/") -> str:
        """password None: certificate login as `user` (on a node that offers it)."""
        credentials = quote(user, safe="") + ("" if password is None else f":{quote(password, safe='')}")
        return f"{self.schemes[0]}://{credentials}@127.0.0.1:{self.amqp_port}/{quote(vhost, safe='')}"

    @property
    def management_url(self) -> str:
        return f"{self.schemes[1]}://127.0.0.1:{self.management_port}"

    @property
    def client_tls(self) -> TlsSettings:
        """What a client needs to reach this node: no TLS files (not the environment's)."""
        return TlsSettings(ca_file="", cert_file="", key_file="")

    def settings(self, vhost: str = "/") -> Settings:
        """The administrator (guest, allowed from loopback) on this node."""
        return Settings(
            amqp_url=self.amqp_url(vhost=vhost),
            management_url=self.management_url,
            database_url="sqlite://",
            tls=self.client_tls,
        )

    def http_verify(self) -> ssl.SSLContext | bool:
        return True

    def api(self, path: str, timeout: float = 60.0) -> Any:
        """GET from this node's management API as the administrator."""
        url = f"{self.management_url}{path}"
        response = httpx.get(url, auth=("guest", "guest"), timeout=timeout, verify=self.http_verify())
        response.raise_for_status()
        return response.json()

    # ---- files and environment ----

    def config_lines(self) -> list[str]:
        lines = [
            *self.listener_lines(),
            "collect_statistics_interval = 1000",  # the API sees new connections within a second
            "log.console = false",
            "log.file.level = info",
        ]
        if len(self.peers) > 1:
            lines.append("cluster_formation.peer_discovery_backend = classic_config")
            lines += [
                f"cluster_formation.classic_config.nodes.{n} = {peer}" for n, peer in enumerate(self.peers, 1)
            ]
        return lines

    def listener_lines(self) -> list[str]:
        return [
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
            f"management.tcp.port = {self.management_port}",
            "management.tcp.ip = 127.0.0.1",
        ]

    def plugins(self) -> tuple[str, ...]:
        return ("rabbitmq_management", *self.extra_plugins)

    def _write_files(self) -> None:
        (self.directory / "mnesia").mkdir(parents=True, exist_ok=True)
        (self.directory / "log").mkdir(exist_ok=True)
        (self.directory / "rabbitmq.conf").write_text("\n".join(self.config_lines()) + "\n")
        (self.directory / "enabled_plugins").write_text(f"[{','.join(self.plugins())}].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")  # not the machine's /etc one

    def env(self) -> dict[str, str]:
        """The environment of this node's server and of CLI tools addressing it."""
        d = self.directory
        inherited = {k: v for k, v in os.environ.items() if k != "RABBITMQ_NODE_PORT"}
        return {
            **inherited,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "HOME": str(self.home),  # the cookie, for the node and the CLI alike
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
        shell = f'ulimit -n {OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0"'
        with (self.directory / "server.out").open("ab") as out:
            self._shell = subprocess.Popen(
                ["bash", "-c", shell, _script("rabbitmq-server")],
                env=self.env(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a signal to us is not one to it
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
        done = subprocess.run(
            [_script("rabbitmqctl"), "-n", self.name, *args],
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

    def open_file_limit(self) -> int | None:
        """The Erlang VM's open-file limit, as the kernel reports it; None when it is not running."""
        try:
            for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        except (OSError, ValueError, NodeError):
            return None
        return None


@contextlib.contextmanager
def own_node(label: str = "bench") -> Iterator[RabbitNode]:
    """One node of our own, started; stopped and its directory deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"{NAME_PREFIX}{label}-rabbit-"))
    first = node_ports()
    node = RabbitNode(
        f"{node_name(label)}@{HOST}", first, first + 1, first + 2, root / "node", new_home(root)
    )
    try:
        node.start()
        node.wait_running()
        yield node
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)


class RabbitCluster:
    """`size` nodes under one temporary directory (size 1: a single node), of `node_class` built with
    `node_options` (tests/support/rabbitmq_nodes.py adds TLS)."""

    def __init__(
        self,
        size: int = 3,
        label: str = "test",
        plugins: tuple[str, ...] = (),
        node_class: type[RabbitNode] = RabbitNode,
        node_options: dict[str, Any] | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"rb-{label}-rabbit-"))
        self.home = new_home(self.root)
        stem = node_name(label)
        names = tuple(f"{stem}-{n}@{HOST}" for n in range(1, size + 1))
        self.nodes: list[RabbitNode] = []
        for n, name in enumerate(names):
            first = node_ports()  # AMQP, management, distribution
            self.nodes.append(
                node_class(
                    name=name,
                    amqp_port=first,
                    management_port=first + 1,
                    dist_port=first + 2,
                    directory=self.root / f"node{n + 1}",
                    home=self.home,
                    peers=names if size > 1 else (),
                    extra_plugins=plugins,
                    **(node_options or {}),
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
def own_cluster(
    size: int = 3, label: str = "bench", plugins: tuple[str, ...] = ()
) -> Iterator[RabbitCluster]:
    """Nodes of our own, started and clustered; stopped and deleted afterwards."""
    cluster = RabbitCluster(size, label, plugins)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@atexit.register
def _kill_leftovers() -> None:
    """A run that is interrupted still leaves no node behind."""
    for node in list(_live):
        with contextlib.suppress(Exception):
            node._signal_group(signal.SIGKILL)
