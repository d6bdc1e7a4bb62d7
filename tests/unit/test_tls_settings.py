"""RB_TLS_* settings and what broker/transport/tls.py makes of them for kombu, pika and httpx; no broker."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pika
import pika.credentials
import pika.exceptions
import pytest

from broker.settings import Settings, SettingsError, TlsSettings
from broker.transport.client import ParticipantClient, connection_parameters
from broker.transport.tls import kombu_options, pika_parameters, verification_failure
from tests.support.certificates import CertificateAuthority, Issued

NO_TLS = TlsSettings(ca_file="", cert_file="", key_file="", server_name="")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def bureau(pki: CertificateAuthority) -> Issued:
    return pki.client("bureau-330681")


def with_certificate(pki: CertificateAuthority, bureau: Issued) -> TlsSettings:
    return TlsSettings(
        ca_file=str(pki.ca_file), cert_file=str(bureau.cert_file), key_file=str(bureau.key_file)
    )


def test_a_certificate_without_its_key_is_refused_naming_the_missing_variable(bureau: Issued) -> None:
    with pytest.raises(SettingsError, match=r"^RB_TLS_KEY_FILE: must be set together with RB_TLS_CERT_FILE"):
        TlsSettings(ca_file="", cert_file=str(bureau.cert_file), key_file="")
    with pytest.raises(SettingsError, match=r"^RB_TLS_CERT_FILE: must be set together with RB_TLS_KEY_FILE"):
        TlsSettings(ca_file="", cert_file="", key_file=str(bureau.key_file))


def test_a_file_that_is_not_there_is_named_by_its_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^RB_TLS_CA_FILE: the file does not exist or cannot be read"):
        TlsSettings(ca_file=str(tmp_path / "missing.pem"), cert_file="", key_file="")


def test_the_settings_are_read_from_the_environment(
    pki: CertificateAuthority, bureau: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RB_TLS_CA_FILE", str(pki.ca_file))
    monkeypatch.setenv("RB_TLS_CERT_FILE", str(bureau.cert_file))
    monkeypatch.setenv("RB_TLS_KEY_FILE", str(bureau.key_file))
    monkeypatch.setenv("RB_TLS_SERVER_NAME", "rabbitmq")
    settings = Settings(amqp_url="amqps://rabbit-1:5671/")
    assert settings.tls == TlsSettings(
        str(pki.ca_file), str(bureau.cert_file), str(bureau.key_file), "rabbitmq"
    )
    assert "key_file" not in repr(settings.tls)


def test_tls_settings_beside_a_plain_address_are_refused(pki: CertificateAuthority) -> None:
    tls = TlsSettings(ca_file=str(pki.ca_file), cert_file="", key_file="")
    with pytest.raises(SettingsError, match=r"^RB_AMQP_URL: address 2 is plain amqp:// but RB_TLS_"):
        Settings(amqp_url="amqps://u:p@rabbit-1:5671/,amqp://u:p@rabbit-2:5672/", tls=tls)
    with pytest.raises(SettingsError, match=r"^url: address 1 is plain amqp://"):
        connection_parameters("amqp://u:p@rabbit-1:5672/", tls)
    with pytest.raises(SettingsError, match="address 1 is plain amqp://"):
        kombu_options("amqp://u:p@rabbit-1:5672/", tls)


def test_the_management_api_of_an_amqps_broker_is_https_on_15671() -> None:
    settings = Settings(amqp_url="amqps://u:p@rabbit-1:5671/,amqps://u:p@rabbit-2:5671/", tls=NO_TLS)
    assert settings.api_urls == ("https://rabbit-1:15671", "https://rabbit-2:15671")


def test_kombu_gets_verified_tls_and_an_explicit_login_method(
    pki: CertificateAuthority, bureau: Issued
) -> None:
    assert kombu_options("amqp://u:p@rabbit-1:5672/", NO_TLS) == {}
    tls = with_certificate(pki, bureau)
    with_password = kombu_options("amqps://u:p@rabbit-1:5671/", tls)
    assert with_password["login_method"] == "PLAIN"  # a password wins over the certificate
    options = with_password["ssl"]
    assert options["cert_reqs"] == ssl.CERT_REQUIRED and options["ca_certs"] == str(pki.ca_file)
    assert options["server_hostname"] is None  # kombu fills in the host it connects to: host-name check on
    assert options["certfile"] == str(bureau.cert_file)
    certificate_only = kombu_options("amqps://rabbit-1:5671/;amqps://rabbit-2:5671/", tls)
    assert certificate_only["login_method"] == "EXTERNAL"


def test_pika_logs_in_with_the_certificate_when_the_address_has_no_password(
    pki: CertificateAuthority, bureau: Issued
) -> None:
    tls = with_certificate(pki, bureau)
    external = pika_parameters("amqps://bureau-330681@rabbit-1:5671/%2F", tls)
    assert isinstance(external.credentials, pika.credentials.ExternalCredentials)
    assert external.ssl_options is not None and external.ssl_options.server_hostname == "rabbit-1"
    assert external.ssl_options.context.verify_mode == ssl.CERT_REQUIRED
    assert external.port == 5671 and external.host == "rabbit-1"
    plain = pika_parameters("amqps://bureau-330681:pw@rabbit-1:5671/%2F", tls)
    assert isinstance(plain.credentials, pika.PlainCredentials)
    assert pika_parameters("amqp://u:p@rabbit-1:5672/", NO_TLS).ssl_options is None


def test_the_client_publishes_as_the_certificates_user_named_in_the_address(
    pki: CertificateAuthority, bureau: Issued
) -> None:
    tls = with_certificate(pki, bureau)
    client = ParticipantClient("amqps://bureau-330681@rabbit-1:5671/", "bureau:330681", tls=tls)
    assert client.username == "bureau-330681"
    with pytest.raises(SettingsError, match=r"^url: certificate login needs the certificate's user name"):
        ParticipantClient("amqps://rabbit-1:5671/", "bureau:330681", tls=tls)


def test_amqp_url_for_without_a_password_names_only_the_user() -> None:
    settings = Settings(amqp_url="amqps://admin:pw@rabbit-1:5671/vh", tls=NO_TLS)
    assert settings.amqp_url_for("bureau-330681", None) == "amqps://bureau-330681@rabbit-1:5671/vh"


def test_a_verification_failure_is_found_inside_the_libraries_wrappers() -> None:
    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    failure.verify_message = "unable to get local issuer certificate"
    wrapped = pika.exceptions.AMQPConnectionError(RuntimeError([OSError("refused"), failure]))
    assert verification_failure(wrapped) == "unable to get local issuer certificate"
    assert verification_failure(pika.exceptions.AMQPConnectionError(OSError("refused"))) is None


def test_from_credentials_with_a_certificate_takes_only_the_user_and_inbox_from_the_file(
    pki: CertificateAuthority, bureau: Issued, tmp_path: Path
) -> None:
    from broker.credentials import CredentialsError, write_private

    file = tmp_path / "credentials.json"
    entry = {"address": "bureau:330681", "password": "pw-not-used", "inbox": "rb.inbox.bureau:330681.t"}
    write_private(file, json.dumps({"bureau-330681": entry}))
    tls = with_certificate(pki, bureau)
    client = ParticipantClient.from_credentials(
        "amqps://rabbit-1:5671/vh", "bureau:330681", str(file), tls=tls
    )
    assert client.username == "bureau-330681" and client.inbox == entry["inbox"]
    assert isinstance(client.parameters[0].credentials, pika.credentials.ExternalCredentials)
    with pytest.raises(CredentialsError, match="no entry for bureau:330600"):
        ParticipantClient.from_credentials("amqps://rabbit-1:5671/vh", "bureau:330600", str(file), tls=tls)
    with_password = ParticipantClient.from_credentials(
        "amqps://rabbit-1:5671/vh", "bureau:330681", str(file), tls=TlsSettings(str(pki.ca_file), "", "", "")
    )
    assert isinstance(with_password.parameters[0].credentials, pika.PlainCredentials)
