"""The console's log-in over HTTP (the ASGI app, the tracker's database for the audit trail; no
broker needed): unknown logins and wrong passwords get the same answers, repeated failures are
refused with 429 and Retry-After without the password being checked, and every outcome is
audited. Pages are gzipped for clients that accept it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.console import login, throttle
from broker.console.accounts import Accounts
from broker.console.app import Console, create_app
from broker.console.scope import Scope
from broker.console.throttle import LoginThrottle
from broker.store.scratch import temporary_database
from broker.store.tracker import db, views

PASSWORD = "correct horse battery staple"


class Clock:
    now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def console(request: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Console, Clock]]:
    monkeypatch.setattr(login, "LOGIN_FAILURE_PAUSE_S", 0.0)  # the pause is not what is tested here
    accounts = Accounts(tmp_path / "operators.json")
    accounts.add("alice", Scope(None), PASSWORD)
    clock = Clock()
    with temporary_database(request.param, tmp_path) as database:
        engine = db.create(database)
        db.migrate(engine)
        try:
            yield (
                Console(
                    "amqp://nobody@127.0.0.1:1/none",
                    engine,
                    accounts,
                    follow=False,
                    throttle=LoginThrottle(clock),
                ),
                clock,
            )
        finally:
            engine.dispose()


def attempts(console: Console, *tries: tuple[str, str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(create_app(console), client=("10.1.2.3", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            return [await client.post("/login", data={"login": u, "password": p}) for u, p in tries]

    return asyncio.run(run())


def shown(response: httpx.Response) -> tuple[int, str, str | None]:
    error = response.text.split('role="alert">')[1].split("<")[0] if 'role="alert"' in response.text else ""
    return response.status_code, error, response.headers.get("retry-after")


def test_unknown_logins_and_wrong_passwords_are_answered_alike(console: tuple[Console, Clock]) -> None:
    c, _ = console
    wrong, unknown = attempts(c, ("alice", "not the password"), ("mallory", "not the password"))
    assert shown(wrong) == shown(unknown) == (401, login.REFUSED, None)
    assert (
        wrong.text.replace("alice", "X") == unknown.text.replace("mallory", "X") or wrong.text == unknown.text
    )


@pytest.mark.parametrize("who", ["alice", "mallory"])
def test_repeated_failures_are_refused_for_a_while_then_tried_again(
    console: tuple[Console, Clock], who: str
) -> None:
    c, clock = console
    answers = attempts(c, *[(who, "not the password")] * (throttle.FREE + 2))
    assert [a.status_code for a in answers] == [401] * (throttle.FREE + 1) + [429]
    _, error, retry = shown(answers[-1])
    assert "too many failed log-ins" in error and retry == str(int(throttle.FIRST_LOCK_S))
    # while locked, even the right password is not looked at
    if who == "alice":
        assert attempts(c, ("alice", PASSWORD))[0].status_code == 429
    clock.now += throttle.FIRST_LOCK_S
    assert attempts(c, ("alice", PASSWORD))[0].status_code == 303  # the lock ran out
    events = [(e.event, e.detail) for e in views.trace(c.engine, "")]
    assert ("operator_login_refused", "wrong password" if who == "alice" else "unknown login") in events
    assert any(event == "operator_login_throttled" and "locked" in detail for event, detail in events)
    assert ("operator_login", "scope national") in events


def test_a_huge_login_is_cut_before_the_throttle_or_the_trail_keeps_it(
    console: tuple[Console, Clock],
) -> None:
    c, _ = console
    (answer,) = attempts(c, ("m" * 200_000, "not the password"))
    assert shown(answer) == (401, login.REFUSED, None)
    assert max(len(key) for _, key in c.throttle._keys) <= login.LOGIN_MAX
    assert all(len(e.detail) < 1000 for e in views.trace(c.engine, ""))


def test_pages_are_gzipped_for_clients_that_accept_it(console: tuple[Console, Clock]) -> None:
    c, _ = console

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(create_app(c))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            await client.post("/login", data={"login": "alice", "password": PASSWORD})
            zipped = await client.get("/campaign", headers={"accept-encoding": "gzip"})
            plain = await client.get("/campaign", headers={"accept-encoding": "identity"})
            return zipped, plain

    zipped, plain = asyncio.run(run())
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.text == plain.text and "the report beside the system" in zipped.text  # httpx unzips it
    assert zipped.headers["content-security-policy"] == plain.headers["content-security-policy"]
