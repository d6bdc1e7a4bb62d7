"""`referral-broker console-operator` and `referral-broker console` as an operator starts them: an
operator added with a generated password, a console that refuses to start without operators, and
one that serves its login page on the port asked for and sends a visitor without a session there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broker.settings import Settings
from broker.store.tracker.store import TrackerStore
from tests.support.ports import free_port

pytestmark = pytest.mark.rabbitmq


def run(*argv: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker.cli", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_operators_are_added_and_the_console_serves_its_login_page(
    isolated: Settings, tmp_path: Path
) -> None:
    tracker_db = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    TrackerStore(tracker_db).close()
    operators = tmp_path / "operators.json"
    env = {
        **os.environ,
        "RB_AMQP_URL": isolated.amqp_url,
        "RB_TRACKER_DATABASE_URL": tracker_db,
        "RB_CONSOLE_OPERATORS": str(operators),
    }
    port = str(free_port())
    refused = run("console", "--port", port, env=env)
    assert refused.returncode == 2 and "console-operator add" in refused.stderr
    assert "Traceback" not in refused.stderr

    added = run("console-operator", "add", "alice", "--scope", "33", env=env)
    assert added.returncode == 0, added.stderr
    assert "password (shown once" in added.stdout
    bad = run("console-operator", "add", "bob", "--scope", "330", env=env)
    assert bad.returncode == 2 and "two digits" in bad.stderr
    short = run(
        "console-operator", "add", "bob", "--scope", "national", "--password-stdin", env=env, stdin="x\n"
    )
    assert short.returncode == 2 and "at least" in short.stderr
    listed = run("console-operator", "list", env=env)
    assert listed.stdout.split() == ["alice", "33"]

    console = subprocess.Popen(
        [sys.executable, "-m", "broker.cli", "console", "--port", port],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert console.stderr is not None
        lines = [console.stderr.readline(), console.stderr.readline()]
        assert any("console on http://127.0.0.1:" in line for line in lines), lines
        for _ in range(100):
            try:
                login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert login.status_code == 200 and "Operator log-in" in login.text
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
        away = httpx.get(f"http://127.0.0.1:{port}/cases/ZJ-1", timeout=5)
        assert away.status_code == 303 and away.headers["location"].startswith("/login")
    finally:
        console.send_signal(signal.SIGTERM)
        try:
            console.wait(timeout=15)
        except subprocess.TimeoutExpired:
            console.kill()
            console.wait()
    # uvicorn shuts down gracefully, then re-raises the signal it caught (its exit status)
    assert console.returncode in (0, -signal.SIGTERM), console.returncode
