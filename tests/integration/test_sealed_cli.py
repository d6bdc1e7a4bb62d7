"""Sealed bodies from the command line, as README "Sealed bodies" tells it: keys made with `keys`,
signed into the directory by `provision --public-keys`, a router taking sealed bodies only; `publish`
with RB_KEYRING seals the message for its recipient, who opens it; without a key ring it warns, and
the router refuses the body in clear and tells the sender."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broker import credentials
from broker.cli.main import main
from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.router.bodies import Bodies
from broker.sealing import Sealing
from tests.support.deployment import Deployment
from tests.support.traffic import receive

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "schemas" / "examples" / "case_notice.json"  # bureau:330681 to bureau:330600
SENDER, RECIPIENT = "bureau:330681", "bureau:330600"


@pytest.fixture
def keyed(provisioned: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.chdir(tmp_path)
    assert main(["keys", "deployment", "generate", "--suite", "international"]) == 0
    for address in (SENDER, RECIPIENT):
        assert main(["keys", "generate", address, "--dir", "rings"]) == 0
    public = tmp_path / "public"
    public.mkdir()
    for path in (tmp_path / "rings").glob("*.public.json"):
        (public / path.name).write_bytes(path.read_bytes())
    assert (
        main(
            [
                "keys",
                "directory",
                "build",
                *map(str, public.glob("*.json")),
                "--deployment-key",
                "deployment.key.json",
                "--out",
                "key-directory.json",
            ]
        )
        == 0
    )
    bodies = Bodies.load(False, "international", "key-directory.json", "deployment.public.json")
    provisioned.start_router(bodies=bodies)
    user = provisioned.participants.username(Address.parse(SENDER))
    credentials.merge_file(tmp_path / "sender.json", {user: {"password": provisioned.passwords[user]}})
    for name, value in (
        ("RB_AMQP_URL", provisioned.settings.amqp_url),
        ("RB_USER_PREFIX", provisioned.settings.user_prefix),
        ("RB_CREDENTIALS", str(tmp_path / "sender.json")),
        ("RB_KEY_DIRECTORY", "key-directory.json"),
        ("RB_DEPLOYMENT_PUBLIC_KEY", "deployment.public.json"),
    ):
        monkeypatch.setenv(name, value)
    return provisioned


def notice_file(tmp_path: Path) -> Path:
    """The example case notice, sent now (the router refuses a sent_at far from its clock)."""
    plain = json.loads(EXAMPLE.read_text())
    plain["envelope"]["message_id"] = str(uuid.uuid4())
    plain["envelope"]["sent_at"] = datetime.now(UTC).isoformat()
    path = tmp_path / "notice.json"
    path.write_text(json.dumps(plain, ensure_ascii=False))
    return path


def recipient_sealing() -> Sealing:
    return Sealing.load(
        "international", "key-directory.json", "deployment.public.json", "rings/bureau-330600.keyring.json"
    )


def test_publish_with_a_key_ring_seals_for_the_recipient_who_opens_it(
    keyed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RB_KEYRING", "rings/bureau-330681.keyring.json")
    notice = notice_file(tmp_path)
    assert main(["publish", str(notice), "--as", SENDER]) == 0
    assert "warning" not in capsys.readouterr().err
    client = keyed.client(RECIPIENT)
    client.sealing = recipient_sealing()
    ((got, delivered),) = receive(client)  # from its own inbox, opened with its own key ring
    plain = json.loads(notice.read_text())
    assert str(got.envelope.message_id) == plain["envelope"]["message_id"]
    assert got.body.summary == plain["body"]["summary"] and delivered.rule is not None


def test_publish_without_a_key_ring_warns_and_the_router_refuses_the_body_in_clear(
    keyed: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish", str(notice_file(tmp_path)), "--as", SENDER]) == 0
    assert "no RB_KEYRING: the body goes in clear" in capsys.readouterr().err
    ((notice, _),) = receive(keyed.client(SENDER))
    assert notice.envelope.kind is Kind.DELIVERY_REFUSED
    assert (notice.body.stage, notice.body.field) == ("contract", "body")
    assert "publish it sealed" in notice.body.what_to_do
