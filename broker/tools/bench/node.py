"""A RabbitMQ node of the benchmark's own, on this machine, with a raised open-file limit.

The shared node's 1,024 file descriptors stop it at about a hundred quorum queues, so the scale
benchmark starts its own `rabbitmq-server`: its own node name, AMQP, management and distribution
ports, config, enabled plugins (management), data and logs in a temporary directory, and its own
Erlang cookie (through a HOME of its own, given to `rabbitmqctl` too). It is stopped by the PID it
wrote and its directory deleted; nothing touches another node.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from broker.settings import Settings

OPEN_FILES = 65536
"""Open-file limit asked for in the node's shell; the hard limit is taken when it is lower."""
START_TIMEOUT_S = 120.0
CLI_DIST_OFFSET = 10_000
"""RabbitMQ's CLI tools listen at the node's distribution port + 10000."""
_SEARCH = ("/usr/lib/rabbitmq/bin",)
"""Looked in before PATH: on Debian, /usr/sbin/rabbitmq-server switches to the rabbitmq user."""


class NodeError(RuntimeError):
    pass


def _script(name: str) -> str:
    for directory in _SEARCH:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise NodeError(f"{name}: not installed; the scale benchmark starts a RabbitMQ node of its own")
    return found


def available() -> bool:
    """Whether this machine can start a RabbitMQ node (rabbitmq-server and rabbitmqctl installed)."""
    try:
        _script("rabbitmq-server"), _script("rabbitmqctl")
    except NodeError:
        return False
    return True


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports() -> int:
    """First of three free ports (AMQP, management, distribution), the CLI's port free as well."""
    for _ in range(200):
        first = random.randrange(20_000, 29_990)
        if all(_free(first + n) for n in range(3)) and _free(first + 2 + CLI_DIST_OFFSET):
            return first
    raise NodeError("no three consecutive free ports between 20000 and 30000")


@dataclass
class Node:
    name: str
    amqp_port: int
    directory: Path
    shell: subprocess.Popen[bytes] | None = None

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.amqp_port + 1}"

    def settings(self) -> Settings:
        """The administrator (guest, allowed from loopback) on this node's default vhost."""
        return Settings(
            amqp_url=f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F",
            management_url=self.management_url,
            database_url="sqlite://",
        )

    def env(self) -> dict[str, str]:
        d = self.directory
        return {
            **os.environ,
            "HOME": str(d / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.amqp_port + 2),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "beam.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self) -> None:
        d = self.directory
        for sub in ("home", "mnesia", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        cookie = d / "home" / ".erlang.cookie"
        cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(32)))
        cookie.chmod(0o400)
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.port = {self.amqp_port + 1}\n"
            "management.tcp.ip = 127.0.0.1\n"
            "collect_statistics_interval = 1000\n"
            "log.console = false\n"
        )
        (d / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (d / "rabbitmq-env.conf").write_text("")  # not the machine's own
        shell = f'ulimit -n {OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0"'
        with (d / "server.out").open("ab") as out:
            self.shell = subprocess.Popen(
                ["bash", "-c", shell, _script("rabbitmq-server")],
                env=self.env(),
                cwd=d,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.shell.poll() is not None:
                raise NodeError(f"{self.name} exited while starting; see its log")
            if (d / "beam.pid").exists():
                done = self.rabbitmqctl("await_startup", "--timeout", "10")
                if done.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise NodeError(f"{self.name} did not start within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.5)

    def rabbitmqctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_script("rabbitmqctl"), "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def open_file_limit(self) -> int | None:
        try:
            pid = int((self.directory / "beam.pid").read_text().strip())
            for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        except (OSError, ValueError):
            return None
        return None

    def api(self, path: str) -> Any:
        response = httpx.get(f"{self.management_url}{path}", auth=("guest", "guest"), timeout=60)
        response.raise_for_status()
        return response.json()

    def mem_used(self, timeout_s: float = 30.0) -> int:
        """Bytes the node uses by its own count (/api/nodes mem_used), once its statistics exist."""
        deadline = time.monotonic() + timeout_s
        while True:
            node = self.api("/api/nodes")[0]
            if "mem_used" in node:
                return int(node["mem_used"])
            if time.monotonic() > deadline:
                raise NodeError(f"{self.name}: no memory figure from the management API in {timeout_s:.0f} s")
            time.sleep(0.5)

    def stop(self) -> None:
        if self.shell is None:
            return
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((self.directory / "beam.pid").read_text().strip()), signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.shell.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.shell.pid, signal.SIGKILL)  # whatever is left in its group (erl_child_setup)
        self.shell.wait(timeout=10)
        self.shell = None


@contextlib.contextmanager
def own_node(label: str = "bench") -> Iterator[Node]:
    """A node of our own, started; stopped and its directory deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"rb-{label}-rabbit-"))
    node = Node(f"rb-{label}-{uuid.uuid4().hex[:6]}@localhost", _free_ports(), root)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
