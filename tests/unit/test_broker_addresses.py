"""RB_AMQP_URL with several broker addresses: parsed once (broker/settings.py), used by kombu and pika."""

from __future__ import annotations

import pytest
from kombu import Connection

from broker.settings import Settings, SettingsError, broker_addresses, with_query
from broker.transport.client import BLOCKED_TIMEOUT_S, connection_parameters

THREE = "amqp://u:p@rabbit-1:5672/rel,amqp://u:p@rabbit-2:5673/rel; amqp://u:p@rabbit-3/rel"


def test_commas_and_semicolons_separate_addresses() -> None:
    assert broker_addresses(THREE) == (
        "amqp://u:p@rabbit-1:5672/rel",
        "amqp://u:p@rabbit-2:5673/rel",
        "amqp://u:p@rabbit-3/rel",
    )


def test_a_password_may_hold_commas_and_semicolons() -> None:
    url = "amqp://u:a,b;c@rabbit-1/rel;amqp://u:a,b;c@rabbit-2/rel"
    assert [a.split("@")[1] for a in broker_addresses(url)] == ["rabbit-1/rel", "rabbit-2/rel"]


def test_settings_keep_kombus_failover_form_and_every_node() -> None:
    settings = Settings(amqp_url=THREE)
    assert settings.amqp_url.count(";") == 2
    assert settings.vhost == "rel"
    assert settings.admin_credentials == ("u", "p")
    assert settings.api_urls == ("http://rabbit-1:15672", "http://rabbit-2:15672", "http://rabbit-3:15672")
    connection = Connection(settings.amqp_url)  # no network: only parsed
    assert connection.alt == list(settings.amqp_urls)
    assert connection.virtual_host == "rel"


def test_another_user_and_vhost_keep_every_address() -> None:
    settings = Settings(amqp_url=THREE)
    user_url = settings.amqp_url_for("bureau-330681", "s3cr;et,")
    assert broker_addresses(user_url) == (
        "amqp://bureau-330681:s3cr%3Bet%2C@rabbit-1:5672/rel",
        "amqp://bureau-330681:s3cr%3Bet%2C@rabbit-2:5673/rel",
        "amqp://bureau-330681:s3cr%3Bet%2C@rabbit-3/rel",
    )
    assert [urls.rsplit("/", 1)[1] for urls in settings.in_vhost("other/vh").amqp_urls] == ["other%2Fvh"] * 3


def test_pika_gets_one_parameter_set_per_address_with_the_vhost_each() -> None:
    parameters = connection_parameters(Settings(amqp_url=THREE).amqp_url_for("bureau-330681", "pw"))
    assert [(p.host, p.port, p.virtual_host) for p in parameters] == [
        ("rabbit-1", 5672, "rel"),
        ("rabbit-2", 5673, "rel"),
        ("rabbit-3", 5672, "rel"),
    ]
    assert {p.credentials.username for p in parameters} == {"bureau-330681"}
    assert {p.blocked_connection_timeout for p in parameters} == {BLOCKED_TIMEOUT_S}
    (own,) = connection_parameters("amqp://u:p@h/%2F?blocked_connection_timeout=5")
    assert own.blocked_connection_timeout == 5


def test_a_management_url_list_is_tried_in_order() -> None:
    settings = Settings(amqp_url=THREE, management_url="http://a:15672/, https://b:15671")
    assert settings.api_urls == ("http://a:15672", "https://b:15671")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "no broker address given"),
        ("http://rabbit-1:5672/", "address 1 must start with amqp:// or amqps://"),
        ("amqp://u:p@rabbit-1/rel,amqp://u:p@rabbit-2/other", "address 2 has another vhost"),
        ("amqp://u:p@rabbit-1/rel,amqp://v:p@rabbit-2/rel", "address 2 has another user"),
        ("amqp://u:secret1@rabbit-1/rel,amqp://u:secret2@rabbit-2/rel", "address 2 has another password"),
        ("amqp://u:p@rabbit-1:56x2/rel", "address 1 has a port that is not a number"),
        ("amqp:///rel", "address 1 names no host"),
    ],
)
def test_a_bad_list_is_refused_naming_the_variable_and_the_address(url: str, words: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(amqp_url=url)
    assert str(info.value).startswith("RB_AMQP_URL: ")
    assert words in str(info.value)
    assert "secret" not in str(info.value)


def test_a_query_goes_on_every_address() -> None:
    url = "amqp://u:p@rabbit-1/rel;amqp://u:p@rabbit-2/rel?frame_max=8192"
    assert broker_addresses(with_query(url, "heartbeat=600")) == (
        "amqp://u:p@rabbit-1/rel?heartbeat=600",
        "amqp://u:p@rabbit-2/rel?frame_max=8192&heartbeat=600",
    )


def test_the_demo_prints_no_password_of_any_address() -> None:
    from broker.tools.demo.run import _masked

    shown = _masked(Settings(amqp_url="amqp://admin:s3cret@rabbit-1/,amqp://admin:s3cret@rabbit-2/"))
    assert "s3cret" not in shown and shown.count("PASSWORD") == 2
