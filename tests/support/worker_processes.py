"""The router and the tracker as subprocesses, started as an operator would (`referral-broker route`
and `referral-broker track`), with every broker address and their databases on PostgreSQL. Their
warnings go to a log file, which says how often they reconnected."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECONNECT_MARKERS = ("reconnecting", "unreachable, retrying")
"""Words of the workers' warnings when a session ended and another is tried (broker.transport.reconnect)."""


@dataclass
class Worker:
    """One worker subprocess; `restart()` starts it again with the same command (after it exited)."""

    label: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    exits: list[int] = field(default_factory=list)
    """Exit codes of the runs that ended by themselves."""

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "broker.cli", *self.command],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def exited(self) -> bool:
        """Whether it ended by itself since it was started (its exit code is then in `exits`)."""
        if self.process is None or self.process.poll() is None:
            return False
        self.exits.append(self.process.returncode)
        self.process = None
        return True

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (finish the batch in hand), SIGKILL when it does not end in time; its exit code."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None
        finally:
            self.process = None

    def reconnects(self) -> int:
        """Warnings that a session ended or could not start, so far."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return 0
        return sum(1 for line in lines if any(m in line for m in RECONNECT_MARKERS))

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def router(
    amqp_url: str, database_url: str, user_prefix: str, participants_file: Path, workdir: Path
) -> Worker:
    env = {
        **os.environ,
        "RB_AMQP_URL": amqp_url,
        "RB_DATABASE_URL": database_url,
        "RB_USER_PREFIX": user_prefix,
        "RB_BODIES": "transitional",  # these tests publish plaintext bodies, explicitly allowed
    }
    command = ["route", "--participants", str(participants_file), "--log-level", "WARNING"]
    return Worker("router", command, env, workdir / "router.log")


def tracker(
    amqp_url: str, database_url: str, rules: dict[str, Any], scan_interval_s: float, workdir: Path
) -> Worker:
    rules_file = workdir / "tracker-rules.json"
    rules_file.write_text(json.dumps(rules))
    env = {
        **os.environ,
        "RB_AMQP_URL": amqp_url,
        "RB_TRACKER_DATABASE_URL": database_url,
        "RB_TRACKER_SCAN_INTERVAL": str(scan_interval_s),
        "RB_TRACKER_RULES": str(rules_file),
    }
    return Worker("tracker", ["track", "--log-level", "WARNING"], env, workdir / "tracker.log")
