"""Secrets and state on disk are the owner's alone: credentials and SQLite files mode 600, secret files
readable by others refused, passwords never taken from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from broker import credentials
from broker.credentials import CredentialsError
from tests.support.files import mode

pytestmark = pytest.mark.usefixtures("usual_umask")


def test_a_secret_file_readable_by_others_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text('{"bureau-330681": {"password": "s3cret"}}')
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError) as caught:
        credentials.read_private(path)
    message = str(caught.value)
    assert "\n" not in message and "644" in message and "chmod 600" in message
    assert "s3cret" not in message
    os.chmod(path, 0o640)
    with pytest.raises(CredentialsError):
        credentials.read_private(path)
    os.chmod(path, 0o600)
    assert "s3cret" in credentials.read_private(path)


def test_written_files_are_mode_600_from_the_start_even_when_replacing_an_open_one(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    credentials.write_private(path, "{}\n")
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"], "no temporary file left"


def test_merge_keeps_other_entries_and_reads_the_old_password_only_format(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    credentials.write_private(path, json.dumps({"referral-router": "old-router-password"}))
    credentials.merge_file(
        path, {"bureau-330681": {"address": "bureau:330681", "password": "p", "inbox": "rb.inbox.x.y"}}
    )
    credentials.merge_file(path, {"bureau-330681": {"inbox": "rb.inbox.x.z"}})
    entries = credentials.load_file(path)
    assert entries["referral-router"] == {"password": "old-router-password"}
    assert entries["bureau-330681"] == {"address": "bureau:330681", "password": "p", "inbox": "rb.inbox.x.z"}
    assert mode(path) == 0o600


def test_credentials_come_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    credentials.write_private(path, json.dumps({"bureau-330681": {"password": "p", "inbox": "rb.inbox.q"}}))
    expected = credentials.Credentials("p", "rb.inbox.q")
    assert credentials.for_user("bureau-330681", path, environ={}) == expected
    env = {"RB_CREDENTIALS": str(path)}
    assert credentials.for_user("bureau-330681", None, environ=env).password == "p"
    env = {"RB_PASSWORD": "from-env", "RB_INBOX": "rb.inbox.e"}
    assert credentials.for_user("bureau-330681", None, environ=env) == credentials.Credentials(
        "from-env", "rb.inbox.e"
    )
    with pytest.raises(CredentialsError, match="RB_PASSWORD"):
        credentials.for_user("bureau-330681", None, environ={})
    with pytest.raises(CredentialsError, match="no password for user police-330681"):
        credentials.for_user("police-330681", path, environ={})


def test_publish_refuses_a_password_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from broker.cli.main import main

    example = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "case_notice.json"
    code = main(["publish", str(example), "--as", "bureau:330681", "--password", "hunter2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "RB_PASSWORD" in err and "--credentials" in err and "hunter2" not in err


def test_police_example_refuses_a_password_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from broker.tools import police_example

    code = police_example.main(["--as", "police:330681", "--password", "hunter2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "RB_PASSWORD" in err and "hunter2" not in err


def test_publish_refuses_a_credentials_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from broker.cli.main import main

    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"bureau-330681": {"password": "p"}}))
    os.chmod(path, 0o644)
    example = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "case_notice.json"
    code = main(["publish", str(example), "--as", "bureau:330681", "--credentials", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "chmod 600" in err[0]


@pytest.mark.parametrize("name", ["referral-broker.sqlite3", "tracker.sqlite3"])
def test_sqlite_files_are_created_mode_600(tmp_path: Path, name: str) -> None:
    from broker.store.memory import SqlRoutingMemory
    from broker.store.tracker.store import TrackerStore

    path = tmp_path / name
    url = f"sqlite:///{path}"
    store = SqlRoutingMemory(url) if name.startswith("referral") else TrackerStore(url)
    try:
        files = [p for p in tmp_path.iterdir() if p.name.startswith(name)]
        assert path in files
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        store.close()


def test_a_sqlite_file_left_readable_by_an_earlier_version_is_tightened(tmp_path: Path) -> None:
    from broker.store.database import engine_for

    path = tmp_path / "old.sqlite3"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    engine_for(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600
