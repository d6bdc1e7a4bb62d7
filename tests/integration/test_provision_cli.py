"""`referral-broker provision` on a real RabbitMQ: the credentials file is created mode 600 (no chmod
afterwards), names every participant's inbox, keeps passwords on a second run, and a worker's own
file holds its entry alone; the client library connects and consumes from that entry."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.settings import Settings
from broker.transport.client import ParticipantClient
from tests.support.deployment import Deployment

pytestmark = pytest.mark.rabbitmq

PARTICIPANTS = ["bureau:330681", "bureau:330600", "system:000000"]


def provision_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    from broker.cli.main import main

    for name, value in (
        ("RB_AMQP_URL", settings.amqp_url),
        ("RB_MANAGEMENT_URL", settings.management_url),
        ("RB_USER_PREFIX", settings.user_prefix),
        ("RB_INBOX_SECRET", settings.inbox_secret),
    ):
        monkeypatch.setenv(name, value)
    return main(["provision", *argv])


def test_provision_writes_private_credentials_with_inbox_names(
    isolated: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    participants = tmp_path / "participants.txt"
    participants.write_text("\n".join(PARTICIPANTS) + "\n")
    out, router_file = tmp_path / "credentials.json", tmp_path / "router" / "credentials.json"
    router_file.parent.mkdir()
    router = f"{isolated.user_prefix}referral-router"
    previous = os.umask(0o022)

    def no_chmod(*_: object) -> None:
        raise AssertionError("the file must be created private, not chmodded afterwards")

    try:
        monkeypatch.setattr(os, "chmod", no_chmod)
        argv = [str(participants), "--credentials-out", str(out)]
        argv += ["--service-credentials", f"{router}={router_file}"]
        assert provision_cli(isolated, monkeypatch, *argv) == 0
        first = json.loads(out.read_text())
        assert provision_cli(isolated, monkeypatch, *argv) == 0
    finally:
        os.umask(previous)
        monkeypatch.undo()
    for path in (out, router_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = json.loads(out.read_text())
    assert entries == first, "a second run keeps passwords and inbox names"
    me = entries[f"{isolated.user_prefix}bureau-330681"]
    assert me["address"] == "bureau:330681" and me["password"]
    assert me["inbox"].startswith("rb.inbox.bureau:330681.") and me["inbox"] != "rb.inbox.bureau:330681"
    assert list(json.loads(router_file.read_text())) == [router], "the router's file holds its own entry only"

    client = ParticipantClient.from_credentials(isolated.amqp_url, "bureau:330681", str(out))
    with client:
        assert client.inbox == me["inbox"]
        assert client.consume(lambda *_: None, idle_timeout_s=0.3) == 0  # permitted: its own inbox


def test_provision_without_an_inbox_secret_says_what_to_set(
    isolated: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    participants = tmp_path / "participants.txt"
    participants.write_text("bureau:330681\n")
    monkeypatch.delenv("RB_INBOX_SECRET_FILE", raising=False)
    out = tmp_path / "credentials.json"
    code = provision_cli(
        replace(isolated, inbox_secret=""), monkeypatch, str(participants), "--credentials-out", str(out)
    )
    assert code == 2
    assert "RB_INBOX_SECRET" in capsys.readouterr().err
    assert not out.exists()


def test_a_client_without_its_inbox_name_says_where_to_find_it() -> None:
    client = ParticipantClient("amqp://u:p@127.0.0.1:5672/", "bureau:330681")
    with pytest.raises(ValueError, match="credentials file"):
        _ = client.inbox


def test_provision_names_the_inboxes_left_under_the_old_guessable_names(isolated: Settings) -> None:
    from broker.participants import Participants
    from broker.transport.provision import provision

    old = "rb.inbox.bureau:330681"
    with pika_channel(isolated.amqp_url) as channel:
        channel.queue_declare(old, durable=True, arguments={"x-queue-type": "quorum"})
    report = provision(isolated, Participants.of(PARTICIPANTS, isolated.user_prefix))
    assert report.legacy_inboxes == [old]


@contextlib.contextmanager
def pika_channel(url: str) -> Iterator[Any]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        connection.close()


def test_publish_and_police_example_take_their_credentials_from_a_private_file(
    provisioned: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from broker import credentials
    from broker.cli.main import main
    from broker.domain.address import Address
    from broker.tools import police_example

    settings = provisioned.settings
    monkeypatch.setenv("RB_AMQP_URL", settings.amqp_url)
    monkeypatch.setenv("RB_USER_PREFIX", settings.user_prefix)
    monkeypatch.delenv("RB_PASSWORD", raising=False)
    for address in ("bureau:330681", "police:330681"):
        user = provisioned.participants.username(Address.parse(address))
        entry = {"password": provisioned.passwords[user], "inbox": provisioned.inbox(address)}
        credentials.write_private(tmp_path / f"{address.replace(':', '-')}.json", json.dumps({user: entry}))

    example = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "case_notice.json"
    sender = json.loads(example.read_text())["envelope"]["sender"]
    mine = tmp_path / "bureau-330681.json"
    code = main(["publish", str(example), "--as", sender, "--credentials", str(mine)])
    assert code == 0, capsys.readouterr().err
    assert "confirmed by the broker" in capsys.readouterr().out

    monkeypatch.setenv("RB_CREDENTIALS", str(tmp_path / "police-330681.json"))
    assert police_example.main(["--as", "police:330681", "--idle-timeout", "0.5"]) == 0
    assert "answered 0 messages" in capsys.readouterr().err


def test_provision_signs_the_participants_public_keys_into_the_key_directory(
    isolated: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's steps: a deployment key, each participant's keys, then provision --public-keys;
    the directory verifies with the deployment's public key, lists the keyed participants, names the
    one without keys, and keeps a revocation when provisioned again."""
    from broker.cli.main import main
    from broker.sealing import directory, keys

    monkeypatch.chdir(tmp_path)
    assert main(["keys", "deployment", "generate", "--suite", "international"]) == 0
    public = tmp_path / "public-keys"
    for address in PARTICIPANTS[:2]:
        assert main(["keys", "generate", address, "--dir", "rings"]) == 0
        public.mkdir(exist_ok=True)
        name = address.replace(":", "-")
        (public / f"{name}.public.json").write_bytes(
            (tmp_path / "rings" / f"{name}.public.json").read_bytes()
        )
    participants = tmp_path / "participants.txt"
    participants.write_text("\n".join(PARTICIPANTS) + "\n")
    argv = [str(participants), "--credentials-out", "credentials.json", "--public-keys", str(public)]
    argv += ["--deployment-key", "deployment.key.json"]
    capsys.readouterr()
    assert provision_cli(isolated, monkeypatch, *argv) == 0
    said = capsys.readouterr()
    assert "key directory written to key-directory.json: keys of 2 of 3 participants" in said.out
    assert "1 participants have no keys (e.g. system:000000)" in said.err

    trusted = keys.load_deployment_public("deployment.public.json")
    found = directory.load("key-directory.json", trusted)
    assert {g.address for g in found.entries} == set(PARTICIPANTS[:2])
    kid = found.entries[0].signing.kid
    assert (
        main(
            [
                "keys",
                "directory",
                "build",
                "--from",
                "key-directory.json",
                "--revoke",
                kid,
                "--deployment-key",
                "deployment.key.json",
                "--out",
                "key-directory.json",
            ]
        )
        == 0
    )
    assert provision_cli(isolated, monkeypatch, *argv) == 0  # the files still list the revoked key
    again = directory.load("key-directory.json", trusted)
    assert next(g for g in again.entries if g.signing.kid == kid).revoked_at is not None


def test_queue_names_are_read_a_page_at_a_time_filtered_by_the_broker(
    isolated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from broker.transport import management

    monkeypatch.setattr(management, "PAGE_SIZE", 2)  # five matches: three pages
    wanted = [f"rb.inbox.bureau:33068{n}" for n in range(5)]
    with pika_channel(isolated.amqp_url) as channel:
        for name in [*wanted, "rb.other.bureau:330680"]:
            channel.queue_declare(name, durable=True)
    with management.Management(isolated) as api:
        assert sorted(api.queue_names(isolated.vhost, r"^rb\.inbox\.")) == wanted
        assert api.queue_names(isolated.vhost, r"^nothing-like-this$") == []
