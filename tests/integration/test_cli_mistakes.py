"""Common mistakes with the CLI, each run as a person would (the real `referral-broker` as a
subprocess, against the real broker): every one must end in a line or two naming the cause and the
fix, exit non-zero, and print no traceback. Then what the issue also asked to work: `--debug`
shows the traceback, `police-example --help` and `refresh-divisions --help`, the demo's hint for
following the routing log, and `deploy/run-router.sh` on a shared broker (RB_USER_PREFIX)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.deployment import Deployment

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "schemas" / "examples" / "case_notice.json")
TIMEOUT_S = 90.0
"""Longest a mistake may take to be told (a wrong password must fail at once, not after retries)."""


@dataclass(frozen=True)
class Mistake:
    name: str
    argv: list[str]
    says: str
    """A fragment of the message that names the cause (case-insensitive)."""
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


def cli(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = TIMEOUT_S) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "broker.cli", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def base_env(dep: Deployment, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RB_") or k in ("RB_TEST_POSTGRES_URL",)}
    settings = dep.settings
    env.update(
        RB_AMQP_URL=settings.amqp_url,
        RB_MANAGEMENT_URL=settings.management_url,
        RB_USER_PREFIX=settings.user_prefix,
        RB_INBOX_SECRET=settings.inbox_secret,
        RB_TRACKER_DATABASE_URL=f"sqlite:///{tmp / 'no-tracker.sqlite3'}",
        RB_DATABASE_URL=f"sqlite:///{tmp / 'router.sqlite3'}",
        RB_BODIES="transitional",
        PYTHONPATH=str(ROOT),
    )
    return env


def mistakes(dep: Deployment, tmp: Path) -> list[Mistake]:
    settings = dep.settings
    admin_user, _ = settings.admin_credentials
    user = f"{settings.user_prefix}bureau-330681"
    password = dep.passwords[user]
    wrong_admin = settings.amqp_url_for(admin_user, "not-the-password")
    closed = "amqp://guest:guest@127.0.0.1:1/"
    no_vhost = settings.in_vhost("no-such-vhost-here").amqp_url
    participant = dep.url_for("bureau:330681")
    router_user = f"{settings.user_prefix}referral-router"
    wrong_router = settings.amqp_url_for(router_user, "not-the-password")
    router_no_vhost = settings.in_vhost("no-such-vhost-here").amqp_url_for(
        router_user, dep.passwords[router_user]
    )
    (tmp / "participants.ok").write_text("bureau:330681\nbureau:330600\n")
    (tmp / "participants.bad").write_text("bureau:330681\nbureau:999999\n")
    (tmp / "not-a-message.json").write_text("hello")
    readable = tmp / "readable.json"
    readable.write_text(f'{{"{user}": {{"password": "{password}"}}}}')
    readable.chmod(0o644)
    (tmp / "a-folder").mkdir()
    publish = ["publish", EXAMPLE, "--as", "bureau:330681"]
    ok = str(tmp / "participants.ok")
    return [
        Mistake("publish with a wrong password", publish, "refused the login", {"RB_PASSWORD": "wrong"}),
        Mistake(
            "publish to a closed port", publish, "cannot reach", {"RB_AMQP_URL": closed, "RB_PASSWORD": "x"}
        ),
        Mistake(
            "publish to an unknown vhost",
            publish,
            "vhost",
            {"RB_AMQP_URL": no_vhost, "RB_PASSWORD": password},
        ),
        Mistake(
            "publish a file that is not there",
            ["publish", "nope.json", "--as", "bureau:330681"],
            "no such file",
            {"RB_PASSWORD": password},
        ),
        Mistake(
            "publish a folder",
            ["publish", str(tmp / "a-folder"), "--as", "bureau:330681"],
            "directory",
            {"RB_PASSWORD": password},
        ),
        Mistake(
            "publish as an address that does not exist",
            ["publish", EXAMPLE, "--as", "bureau:999999"],
            "error:",
            {"RB_PASSWORD": password},
        ),
        Mistake("publish without any password", publish, "RB_PASSWORD"),
        Mistake(
            "publish with a credentials file others may read",
            [*publish, "--credentials", str(readable)],
            "chmod 600",
        ),
        Mistake(
            "publish a file that is not a message",
            ["publish", str(tmp / "not-a-message.json"), "--as", "bureau:330681"],
            "not a valid message",
            {"RB_PASSWORD": password},
        ),
        Mistake("provision a participants file that is not there", ["provision", "nope.txt"], "no such file"),
        Mistake("provision with no participants file at all", ["provision"], "no such file"),
        Mistake(
            "provision a participants file with a bad line",
            ["provision", str(tmp / "participants.bad")],
            "line 2",
        ),
        Mistake(
            "provision without the inbox secret",
            ["provision", ok],
            "RB_INBOX_SECRET",
            {"RB_INBOX_SECRET": "", "RB_INBOX_SECRET_FILE": ""},
        ),
        Mistake(
            "provision with the HTTP API unreachable",
            ["provision", ok],
            "HTTP API",
            {"RB_MANAGEMENT_URL": "http://127.0.0.1:1"},
        ),
        Mistake(
            "provision with a wrong admin password",
            ["provision", ok],
            "refused the login",
            {"RB_AMQP_URL": wrong_admin},
        ),
        Mistake(
            "declare with a wrong password", ["declare"], "refused the login", {"RB_AMQP_URL": wrong_admin}
        ),
        Mistake("declare on an unknown vhost", ["declare"], "vhost", {"RB_AMQP_URL": no_vhost}),
        Mistake("declare on a closed port", ["declare"], "cannot reach", {"RB_AMQP_URL": closed}),
        Mistake(
            "route with a participants file that is not there",
            ["route", "--participants", "nope.txt"],
            "no such file",
        ),
        Mistake(
            "provision with public keys but no deployment key",
            ["provision", ok, "--public-keys", str(tmp)],
            "--deployment-key",
        ),
        Mistake(
            "provision with a deployment key file that is not one",
            ["provision", ok, "--public-keys", str(tmp), "--deployment-key", ok],
            "participants.ok",
        ),
        Mistake(
            "route taking sealed bodies only, with no key directory",
            ["route", "--participants", ok],
            "RB_KEY_DIRECTORY",
            {"RB_BODIES": "sealed"},
        ),
        Mistake(
            "route with RB_BODIES neither sealed nor transitional",
            ["route", "--participants", ok],
            "give sealed or transitional",
            {"RB_BODIES": "plain"},
        ),
        Mistake(
            "route with a key directory that is not there",
            ["route", "--participants", ok],
            "RB_KEY_DIRECTORY",
            {"RB_BODIES": "sealed", "RB_KEY_DIRECTORY": "nope.json", "RB_DEPLOYMENT_PUBLIC_KEY": "nope.json"},
        ),
        Mistake(
            "route with a wrong password",
            ["route", "--participants", ok],
            "route stopped",
            {"RB_AMQP_URL": wrong_router},
        ),
        Mistake(
            "route on an unknown vhost",
            ["route", "--participants", ok],
            "route stopped",
            {"RB_AMQP_URL": router_no_vhost},
        ),
        Mistake(
            "route with a database URL that is not one",
            ["route", "--participants", ok],
            "database URL",
            {"RB_AMQP_URL": dep.router_url, "RB_DATABASE_URL": "referral-broker.sqlite3"},
        ),
        Mistake(
            "tail as a participant instead of the operator",
            ["tail", "--count", "1"],
            "operator",
            {"RB_AMQP_URL": participant},
        ),
        Mistake(
            "tail with a wrong password",
            ["tail", "--count", "1"],
            "refused the login",
            {"RB_AMQP_URL": wrong_admin},
        ),
        Mistake("tail a closed port", ["tail", "--count", "1"], "cannot reach", {"RB_AMQP_URL": closed}),
        Mistake("tail a kind that does not exist", ["tail", "--kind", "notice"], "not a message kind"),
        Mistake("validate a file that is not there", ["validate", "nope.json"], "no such file"),
        Mistake("validate a folder", ["validate", str(tmp / "a-folder")], "directory"),
        Mistake("trace with no tracker database", ["trace", "ZJZJ-2019-42"], "no tracker database"),
        Mistake(
            "trace a database in a folder that is not there",
            ["trace", "ZJZJ-2019-42"],
            "no tracker database",
            {"RB_TRACKER_DATABASE_URL": f"sqlite:///{tmp / 'no-folder' / 'tracker.sqlite3'}"},
        ),
        Mistake("overdue with no tracker database", ["overdue"], "no tracker database"),
        Mistake("stats with no tracker database", ["stats"], "no tracker database"),
        Mistake(
            "trace with a tracker database URL that is a file name",
            ["trace", "X-1"],
            "not a database URL",
            {"RB_TRACKER_DATABASE_URL": "tracker.sqlite3"},
        ),
        Mistake(
            "the README's police-example command without its credentials file",
            ["police-example", "--as", "police:330681"],
            "police.json",
            {"RB_CREDENTIALS": "police.json"},
        ),
        Mistake(
            "quarantine list as a participant",
            ["quarantine", "list"],
            "operator",
            {"RB_AMQP_URL": participant},
        ),
        Mistake(
            "an RB_AMQP_URL that is not an AMQP URL",
            ["declare"],
            "RB_AMQP_URL",
            {"RB_AMQP_URL": "http://127.0.0.1:15672/"},
        ),
        Mistake("bench --memory-rows without --parts", ["bench", "--memory-rows", "1000"], "add --parts"),
    ]


def test_each_common_mistake_says_cause_and_fix_without_a_traceback(
    provisioned: Deployment, tmp_path: Path
) -> None:
    cases = mistakes(provisioned, tmp_path)
    assert len(cases) == 42
    env = base_env(provisioned, tmp_path)

    def attempt(mistake: Mistake) -> tuple[Mistake, Run]:
        return mistake, cli(mistake.argv, {**env, **mistake.env}, tmp_path)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(attempt, cases))
    failures = []
    for mistake, run in runs:
        said = run.out + run.err
        problems = []
        if "Traceback" in said:
            problems.append("traceback")
        if run.code == 0:
            problems.append("exit 0")
        if mistake.says.lower() not in said.lower():
            problems.append(f"does not say {mistake.says!r}")
        if len(run.err.strip().splitlines()) > 3:
            problems.append(f"{len(run.err.strip().splitlines())} lines")
        if problems:
            failures.append(f"{mistake.name}: {', '.join(problems)}\n    {said.strip()[-600:]}")
    if os.environ.get("RB_SHOW_MISTAKES"):
        for mistake, run in runs:
            print(f"## {mistake.name} ({run.seconds:.1f} s, exit {run.code})\n{(run.out + run.err).strip()}")
    assert not failures, "\n".join(failures)
    # the views refused to create the databases they were pointed at
    assert not (tmp_path / "no-tracker.sqlite3").exists()
    assert not (tmp_path / "no-folder").exists()
    slow = [
        f"{m.name}: {r.seconds:.0f} s" for m, r in runs if "refused the login" in m.says and r.seconds > 20
    ]
    assert not slow, slow


def test_debug_shows_the_traceback(provisioned: Deployment, tmp_path: Path) -> None:
    run = cli(["--debug", "validate", "nope.json"], base_env(provisioned, tmp_path), tmp_path)
    assert run.code != 0 and "Traceback" in run.err and "FileNotFoundError" in run.err


def test_help_of_the_commands_with_their_own_parser(provisioned: Deployment, tmp_path: Path) -> None:
    env = base_env(provisioned, tmp_path)
    for command in ("police-example", "refresh-divisions"):
        run = cli([command, "--help"], env, tmp_path)
        assert run.code == 0 and f"referral-broker {command}" in run.out, run.err


def test_the_demo_hint_for_following_the_log_is_a_command_that_runs(provisioned: Deployment) -> None:
    from broker.tools.demo.run import _tail_command

    command = f"{_tail_command(provisioned.settings)} --count 0"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=TIMEOUT_S, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "following rb.routing-log" in done.stderr


def test_run_router_script_on_a_shared_broker_with_a_user_prefix(
    provisioned: Deployment, tmp_path: Path
) -> None:
    env = base_env(provisioned, tmp_path)
    env.update(RB_CREDENTIALS=str(tmp_path / "credentials.json"), RB_VENV_READY="1")
    (tmp_path / "participants.txt").write_text("bureau:330681\nbureau:330600\n")
    script = subprocess.Popen(
        ["bash", str(ROOT / "deploy" / "run-router.sh"), str(tmp_path / "participants.txt")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert script.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = script.stdout.readline()
            if not line:
                break
            lines.append(line)
            if '"connected"' in line:
                break
        assert any("connected" in line for line in lines), "".join(lines)
    finally:
        _stop(script)


def _stop(process: subprocess.Popen[str], on_stop: Callable[[], None] | None = None) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
