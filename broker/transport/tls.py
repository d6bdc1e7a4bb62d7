"""TLS to the broker: the one place that turns TlsSettings (broker/settings.py) into what kombu,
pika and httpx take, and that recognises a failed certificate verification in their errors.

Every amqps:// connection verifies the broker's certificate chain and host name; TLS 1.2 is the
oldest version offered. Certificate login is RabbitMQ's EXTERNAL SASL mechanism
(rabbitmq_auth_mechanism_ssl plugin, user from the certificate's CN):
https://www.rabbitmq.com/docs/ssl and https://www.rabbitmq.com/docs/access-control
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pika
import pika.credentials

from broker.settings import SettingsError, TlsSettings, broker_addresses

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
"""Older versions are broken; RabbitMQ's own guide offers 1.2 and 1.3 only."""


def client_context(tls: TlsSettings) -> ssl.SSLContext:
    """A client context that verifies the peer against the CA file (or the system's store) and
    presents the client certificate when one is configured."""
    context = ssl.create_default_context(cafile=tls.ca_file or None)
    context.minimum_version = MINIMUM_VERSION
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


def kombu_options(url: str, tls: TlsSettings | None = None) -> dict[str, Any]:
    """Keyword arguments for `kombu.Connection(url, ...)`: TLS options and the login mechanism for
    an amqps:// URL (`tls` defaults to the environment's RB_TLS_*); none for plain amqp://."""
    tls = TlsSettings() if tls is None else tls
    addresses = broker_addresses(url, "url")
    tls.check(addresses)
    if urlsplit(addresses[0]).scheme != "amqps":
        return {}
    options: dict[str, Any] = {
        "ca_certs": tls.ca_file or None,  # py-amqp loads the system's store when None
        "cert_reqs": ssl.CERT_REQUIRED,
        # None: kombu puts in the host of the address it connects to, which turns the host-name check on
        "server_hostname": tls.server_name or None,
        "tls_minimum_version": MINIMUM_VERSION,
    }
    if tls.cert_file:
        options.update(certfile=tls.cert_file, keyfile=tls.key_file)
    # Named explicitly: py-amqp's default list tries EXTERNAL before PLAIN, so a component with a
    # certificate and a password would otherwise log in as its certificate's CN.
    login = "EXTERNAL" if tls.login_external(addresses[0]) else "PLAIN"
    return {"ssl": options, "login_method": login}


def pika_parameters(address: str, tls: TlsSettings) -> pika.URLParameters:
    """pika's parameters for one address: TLS for amqps://, and EXTERNAL credentials for
    certificate login. An address whose query names `ssl_options` keeps pika's reading of it."""
    parts = urlsplit(address)
    external = parts.scheme == "amqps" and tls.login_external(address)
    if external:  # pika cannot parse a user without a password; EXTERNAL needs neither
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        address = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    parameters = pika.URLParameters(address)
    if parts.scheme != "amqps":
        return parameters
    if "ssl_options=" not in parts.query:
        server_name = tls.server_name or parts.hostname
        parameters.ssl_options = pika.SSLOptions(client_context(tls), server_hostname=server_name)
    if external:
        parameters.credentials = pika.credentials.ExternalCredentials()
    return parameters


def verification_failure(error: BaseException) -> str | None:
    """The reason a TLS certificate verification failed, when it is somewhere in `error` (pika and
    py-amqp wrap it in their own exceptions, in args, causes or lists of attempts); else None."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return str(item.verify_message or item.reason or "certificate not trusted")
        if isinstance(item, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(item):
            return "certificate verify failed"
        if isinstance(item, BaseException):
            pending += [item.__cause__, item.__context__, *item.args]
            pending += list(getattr(item, "exceptions", None) or ())
        elif isinstance(item, list | tuple):
            pending += list(item)
    return None


def login_user(url: str, tls: TlsSettings | None = None) -> str:
    """The user a connection to `url` logs in as, which every publish names in user_id. With
    certificate login RabbitMQ takes the user from the certificate's CN, so the address must still
    name it for user_id to match."""
    tls = TlsSettings() if tls is None else tls
    address = broker_addresses(url, "url")[0]
    parts = urlsplit(address)
    if parts.username:
        return unquote(parts.username)
    if tls.login_external(address):
        raise SettingsError(
            "url: certificate login needs the certificate's user name in the address "
            "(amqps://USER@host:5671/vhost, e.g. bureau-330681), for the user_id every publish carries"
        )
    return "guest"  # the default user of pika and kombu
