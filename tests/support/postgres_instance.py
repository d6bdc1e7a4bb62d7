"""A PostgreSQL of the test suite's own: initdb into a temporary directory, served on another port
(loopback only, trust authentication), stopped and started again for outage tests, deleted after.

It uses the server binaries of the newest Debian `postgresql` package (/usr/lib/postgresql/N/bin)
or those on PATH. initdb refuses to run as root, so as root the server runs as the `postgres`
system user, in a directory handed to that user. The shared PostgreSQL on 5432 is never touched.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.ports import free_block

SERVICE_USER = "postgres"
"""Who runs the server when the tests run as root."""
SUPERUSER = "postgres"
"""The database superuser initdb creates (trust authentication: no password)."""


def _bin_dir() -> Path | None:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def available() -> bool:
    """Whether this machine can start a PostgreSQL (initdb and pg_ctl installed; a service user as root)."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return False
    return True


class PostgresError(RuntimeError):
    pass


class PostgresInstance:
    def __init__(self, label: str = "test") -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise PostgresError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
        self.bin_dir = bin_dir
        self.port = free_block(1)
        self.root = Path(tempfile.mkdtemp(prefix=f"rb-{label}-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as = SERVICE_USER if os.geteuid() == 0 else None
        if self._as is not None:
            owner = pwd.getpwnam(self._as)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this instance."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin_dir / tool), *args],
            user=self._as,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise PostgresError(f"{tool} {' '.join(args)}: {done.stderr or done.stdout}\n{self.log_tail()}")
        return done

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\n"  # a test database: speed over crash safety of the machine
                "max_connections = 200\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session at once (an outage), `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return self.pid() is not None

    def pid(self) -> int | None:
        """PID of the postmaster, from the file it writes."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def outage(self, seconds: float) -> tuple[float, float]:
        """Stop the server, keep it down for `seconds`, start it; return when it stopped and
        when it answered again (monotonic)."""
        self.stop()
        stopped = time.monotonic()
        time.sleep(max(0.0, seconds - (time.monotonic() - stopped)))
        self.start()
        return stopped, time.monotonic()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the server (by the PID it wrote, if pg_ctl cannot) and delete its directory."""
        if self.is_running():
            try:
                self.stop("immediate")
            except (PostgresError, subprocess.SubprocessError):
                pid = self.pid()
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_instance(label: str = "test") -> Iterator[PostgresInstance]:
    """An own PostgreSQL, running; stopped and deleted afterwards."""
    instance = PostgresInstance(label)
    try:
        instance.init()
        instance.start()
        yield instance
    finally:
        instance.destroy()
