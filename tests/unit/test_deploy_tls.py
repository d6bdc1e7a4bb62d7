"""The compose stack speaks TLS only: no plain AMQP listener, every broker URL amqps:// with the
stack's CA, the management API over HTTPS, and certificates that verify for the names clients use."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from tests.support.compose import (
    CERTIFICATE_FILES,
    DEPLOY,
    GENERATORS,
    RABBITMQ_NODES,
    broker_services,
    environment,
    secret_mounts,
    services,
)

CONF = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")


def conf(key: str) -> str:
    (value,) = re.findall(rf"^{re.escape(key)} = (\S+)$", CONF, re.MULTILINE)
    return value


def test_rabbitmq_listens_for_amqp_over_tls_only_and_verifies_peers() -> None:
    assert conf("listeners.tcp") == "none"
    assert conf("listeners.ssl.default") == "5671"
    assert conf("ssl_options.verify") == "verify_peer"
    assert not re.search(r"^listeners\.tcp\.", CONF, re.MULTILINE), "a plain AMQP listener"
    assert not re.search(r"^management\.tcp\.", CONF, re.MULTILINE), "the management API in clear"
    assert conf("management.ssl.port") == "15671"
    assert conf("auth_mechanisms.1") == "EXTERNAL" and conf("ssl_cert_login_from") == "common_name"
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text(encoding="utf-8")
    assert "rabbitmq_auth_mechanism_ssl" in plugins


def test_the_nodes_entry_point_installs_every_file_rabbitmq_conf_names() -> None:
    entrypoint = (DEPLOY / "rabbitmq" / "entrypoint.sh").read_text(encoding="utf-8")
    named = {
        conf(f"{prefix}.{key}")
        for prefix in ("ssl_options", "management.ssl")
        for key in ("cacertfile", "certfile", "keyfile")
    }
    for path in named:
        directory, file = path.rsplit("/", 1)
        assert f"/secrets/tls/{file}" in entrypoint and directory in entrypoint, path
    assert {f"tls/{Path(p).name}" for p in named} == CERTIFICATE_FILES["rabbitmq"]


def test_every_component_connects_over_amqps_trusting_the_stacks_ca() -> None:
    for name, service in broker_services().items():
        env: dict[str, Any] = environment(service)
        if "RB_AMQP_URL" not in env:
            continue
        assert env["RB_AMQP_URL"].startswith("amqps://") and ":5671/" in env["RB_AMQP_URL"], name
        assert env["RB_TLS_CA_FILE"] == "/secrets/tls/ca.pem", name
        if "RB_MANAGEMENT_URL" in env:
            assert env["RB_MANAGEMENT_URL"].startswith("https://") and env["RB_MANAGEMENT_URL"].endswith(
                ":15671"
            )
    published = [port for node in RABBITMQ_NODES for port in services()[node].get("ports", [])]
    assert published and all(p.endswith((":5671", ":15671")) for p in published)


def test_the_nodes_start_after_their_certificates_and_nobody_else_sees_the_ca_key() -> None:
    for node in RABBITMQ_NODES:
        assert services()[node]["depends_on"]["certificates"]["condition"] == "service_completed_successfully"
    for name, service in services().items():
        if name not in GENERATORS:
            assert all(sub != "tls-ca" for sub, _, _ in secret_mounts(service)), name


@pytest.mark.skipif(shutil.which("openssl") is None, reason="make-certificates.sh needs openssl")
def test_make_certificates_issues_a_server_certificate_for_every_name_clients_use(tmp_path: Path) -> None:
    def run(*args: str) -> None:
        done = subprocess.run(
            ["bash", str(DEPLOY / "rabbitmq" / "make-certificates.sh"), *args],
            env={"SECRETS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    run()
    for sub, files in CERTIFICATE_FILES.items():
        for file in files:
            assert (tmp_path / sub / file).stat().st_size > 0, f"{sub}/{file}"
    assert stat.S_IMODE((tmp_path / "rabbitmq/tls/server-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls-ca/ca-key.pem").stat().st_mode) == 0o600

    ca = x509.load_pem_x509_certificate((tmp_path / "tls-ca/ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((tmp_path / "rabbitmq/tls/server.pem").read_bytes())
    policy = PolicyBuilder().store(Store([ca]))
    for name in ("rabbitmq", *RABBITMQ_NODES, "localhost"):
        policy.build_server_verifier(x509.DNSName(name)).verify(server, [])

    first = (tmp_path / "rabbitmq/tls/server.pem").read_bytes()
    run("client", "bureau-330681")
    client = x509.load_pem_x509_certificate((tmp_path / "tls-ca/clients/bureau-330681.pem").read_bytes())
    cn = client.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["bureau-330681"]
    # (cryptography's client verifier wants a subjectAltName, which RabbitMQ's CN login does not)
    verified = subprocess.run(
        [
            "openssl",
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            "tls-ca/ca.pem",
            "tls-ca/clients/bureau-330681.pem",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    run()
    assert (tmp_path / "rabbitmq/tls/server.pem").read_bytes() == first, "kept on later starts"
