"""The operator console in a real browser (Playwright driving Debian's Chromium, headless) over a
live router and tracker in a scratch vhost: the routing log shows a message published during the
test within 2 s, a case's timeline shows its obligations, an overdue obligation is listed, a
quarantined message is replayed from the page and then shows as routed, and a provincial operator
gets 403 on another province's case; the campaign view charts the report beside the system. No
page shows a body's text. Every page is screenshotted into RB_ARTIFACTS_DIR (default
build/console-screenshots, which git ignores)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.console.accounts import Accounts
from broker.console.app import Console, create_app
from broker.console.scope import Scope
from broker.domain.factory import new_message
from broker.domain.messages import Kind, Message
from broker.limits import UserLimits
from broker.participants import Participants
from broker.store.scratch import temporary_database
from broker.store.tracker import db
from broker.store.tracker.model import State
from broker.tools.contract.examples import CASE_FACTS
from broker.tracker.clock import ManualClock
from broker.transport.provision import OPERATOR_USER, provision
from tests.support.deployment import DEFAULT_PARTICIPANTS, TEST_LIMITS_CONNECTIONS, Deployment
from tests.support.ports import free_port
from tests.support.queues import drain
from tests.support.tracker import Running
from tests.support.waiting import wait_for

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.rabbitmq

CHROMIUM = os.environ.get("RB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("RB_ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "build/console-screenshots")
)
BODY_TEXT = "BODY-TEXT-NEVER-SHOWN-4711"
"""Written into every body the tests publish; no page may show it."""
PASSWORD = "correct horse battery staple"
ZHEJIANG_CASE = "ZJSX-2019-42"
NEWCOMER = "bureau:330603"
"""Keqiao: not provisioned at first, so a notice to it is quarantined at the routing stage."""


@pytest.fixture
def deployment(provisioned: Deployment) -> Iterator[Deployment]:
    """As in the tracker's tests: the router accepts the notices of a tracker whose clock runs ahead."""
    provisioned.start_router(clock_skew=timedelta(days=366))
    yield provisioned


@dataclass
class Live:
    dep: Deployment
    console: Console
    base: str
    clock: ManualClock
    tracker: Running
    browser: Any

    def page(self, login: str) -> Any:
        page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{self.base}/login")
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Log in')")
        page.wait_for_url(re.compile(r".*/log.*"))
        return page

    def publish(self, message: Message) -> Message:
        self.dep.client(message.envelope.sender).publish(message)
        return message


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_no_body(page: Any) -> None:
    assert BODY_TEXT not in page.content()


def operator_url(dep: Deployment) -> str:
    user = f"{dep.settings.user_prefix}{OPERATOR_USER}"
    return dep.settings.amqp_url_for(user, dep.passwords[user])


@pytest.fixture
def live(deployment: Deployment, tmp_path: Path) -> Iterator[Live]:
    import uvicorn

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    accounts = Accounts(tmp_path / "operators.json")
    accounts.add("national", Scope(None), PASSWORD)
    accounts.add("zhejiang", Scope("33"), PASSWORD)
    accounts.add("guangdong", Scope("44"), PASSWORD)
    clock = ManualClock()
    with temporary_database("sqlite", tmp_path) as database:
        tracker = Running(deployment, database, clock, [])
        engine = db.create(database)
        console = Console(
            operator_url(deployment), engine, accounts, replay_url=deployment.router_url, clock=clock.now
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(console), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            assert wait_for(lambda: server.started and console.follower is not None, timeout=20)
            assert console.follower is not None
            assert console.follower.bound.wait(20), console.follower.last_error
            with playwright_sync.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                try:
                    yield Live(deployment, console, f"http://127.0.0.1:{port}", clock, tracker, browser)
                finally:
                    browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            assert not thread.is_alive(), "console did not stop"
            tracker.stop()
            engine.dispose()


def test_live_log_case_timeline_overdue_health_and_scoreboard(live: Live) -> None:
    page = live.page("national")
    shoot(page, "log-empty")
    notice = new_message(
        Kind.CASE_NOTICE,
        "bureau:330681",
        ["bureau:330600"],
        ZHEJIANG_CASE,
        {"summary": BODY_TEXT},
        case=CASE_FACTS,
    )
    live.publish(notice)  # returns once the broker confirmed it
    published = time.monotonic()
    row = page.locator(f"tr[data-message='{notice.envelope.message_id}']")
    row.wait_for(timeout=2000)  # live, without a reload
    took = time.monotonic() - published
    assert took < 2.0
    assert "routed" in row.inner_text() and "bureau:330600" in row.inner_text()
    assert_no_body(page)
    shoot(page, "log")

    # filters: another kind shows nothing, this case shows the row
    page.goto(f"{live.base}/log?kind=assistance_request")
    assert page.locator(f"tr[data-message='{notice.envelope.message_id}']").count() == 0
    page.goto(f"{live.base}/log?case={ZHEJIANG_CASE}&outcome=routed&bureau=330600")
    assert page.locator(f"tr[data-message='{notice.envelope.message_id}']").count() == 1

    request = new_message(
        Kind.ASSISTANCE_REQUEST,
        "bureau:330681",
        ["bureau:330600"],
        ZHEJIANG_CASE,
        {"questions": [BODY_TEXT]},
        case=CASE_FACTS,
    )
    live.publish(request)
    rid = str(request.envelope.message_id)
    store = live.tracker.store
    assert wait_for(lambda: len(store.obligations(rid)) == 2)
    page.goto(f"{live.base}/cases/{ZHEJIANG_CASE}")
    obligations = page.locator("table.obligations tbody tr")
    assert obligations.count() == 3  # the notice's receipt, the request's receipt and its reply
    text = page.locator("table.obligations").inner_text()
    assert "assistance_reply" in text and "bureau:330600" in text
    assert page.locator("ol.timeline li").count() >= 3
    assert_no_body(page)
    shoot(page, "case")

    owed = {o.rule: o for o in store.obligations(rid)}["assistance_reply"]
    live.clock.set(owed.due_at + timedelta(hours=1))
    live.tracker.scans()
    page.goto(f"{live.base}/obligations?within=1")
    late = page.locator("table.obligations tbody tr.overdue")
    assert wait_for(lambda: late.count() >= 1)
    text = page.locator("table.obligations").inner_text()
    assert "overdue by" in text and ZHEJIANG_CASE in text and "bureau:330600" in text
    page.click("th a:has-text('owed by')")  # sortable by column
    assert "sort=owed_by" in page.url
    shoot(page, "obligations")
    # the escalation and the overdue notice went out: the timeline has them
    assert wait_for(lambda: {o.state for o in store.obligations(rid)} >= {State.OPEN})
    page.goto(f"{live.base}/cases/{ZHEJIANG_CASE}")
    assert "overdue by" in page.locator("table.obligations").inner_text()

    page.goto(f"{live.base}/health")
    health = page.locator("table.health").inner_text()
    assert "router\tup" in health.replace(" ", "\t") or re.search(r"router\s+up", health), health
    assert re.search(r"tracker\s+up", health), health
    assert "rb.router.inbound" in page.locator("table.queues").inner_text()
    shoot(page, "health")

    page.goto(f"{live.base}/scoreboard")
    assert "bureau:330600" in page.locator("table.scoreboard").inner_text()
    shoot(page, "scoreboard")
    page.goto(f"{live.base}/scoreboard?by=province")
    assert re.search(r"\b33\b", page.locator("table.scoreboard").inner_text())
    assert_no_body(page)

    # the campaign view: the report's figures beside the system's, as inline SVG charts
    page.goto(f"{live.base}/campaign")
    assert page.locator("figure.chart svg").count() == 4
    sector = str(CASE_FACTS["sector"]).replace("_", " ")
    bar = page.locator("figure.chart").first.locator(f"g.bar[data-label='{sector}']")
    assert "100.0 %" in (bar.text_content() or "")  # the one case the system saw is of this sector
    records = sum(int(r.get("provided", 0)) + int(r.get("held", 0)) for r in CASE_FACTS["records"])
    counts = page.locator("figure.chart").last.locator("g.bar[data-label='records involved']")
    assert f"{records:,}" in (counts.text_content() or "")
    assert "not routed" in page.locator("figure.chart").last.inner_text()  # fines, interviews
    assert_no_body(page)
    shoot(page, "campaign")


def test_a_quarantined_message_is_replayed_from_the_page_and_then_routed(live: Live) -> None:
    dep = live.dep
    notice = new_message(
        Kind.CASE_NOTICE, "bureau:330681", [NEWCOMER], ZHEJIANG_CASE, {"summary": BODY_TEXT}, case=CASE_FACTS
    )
    live.publish(notice)
    mid = str(notice.envelope.message_id)
    page = live.page("zhejiang")
    page.locator(f"tr[data-message='{mid}'] td.outcome:has-text('quarantined')").wait_for(timeout=5000)

    page.goto(f"{live.base}/holding/quarantine")
    group = page.locator("section.group", has_text="envelope.to")
    assert group.count() == 1
    assert group.locator(f"tr[data-id='{mid}']").count() == 1
    assert_no_body(page)
    shoot(page, "quarantine")
    page.click(f"a:has-text('{mid}')")
    assert "x-quarantine-reason" in page.content()
    assert_no_body(page)
    shoot(page, "quarantined-message")

    # the cause is fixed: the recipient provisioned and the router restarted with it
    dep.stop_router()
    dep.participants = Participants.of([*DEFAULT_PARTICIPANTS, NEWCOMER], dep.settings.user_prefix)
    limits = UserLimits(TEST_LIMITS_CONNECTIONS, 2 * TEST_LIMITS_CONNECTIONS)
    dep.passwords.update(provision(dep.settings, dep.participants, limits=limits).created)
    dep.start_router(clock_skew=timedelta(days=366))

    page.goto(f"{live.base}/holding/quarantine")
    page.check(f"tr[data-id='{mid}'] input[type=checkbox]")
    page.locator("section.group", has_text="envelope.to").locator("input[name=reason]").fill(
        "Keqiao provisioned"
    )
    page.click("button:has-text('Replay selected')")
    assert "replayed" in page.locator("ul.outcomes").inner_text()
    shoot(page, "replayed")

    page.goto(f"{live.base}/log?case={ZHEJIANG_CASE}")
    page.locator(f"tr[data-message='{mid}'] td.outcome:has-text('routed')").wait_for(timeout=10000)
    assert NEWCOMER in page.locator(f"tr.routed[data-message='{mid}']").inner_text()
    got = drain(dep.settings, dep.inbox(NEWCOMER), expect=1, timeout=20)
    assert [m.properties["message_id"] for m in got] == [mid]
    events = [e.event for e in live.tracker.store.trace(mid)]
    assert {"quarantined", "operator_shown", "operator_replayed"} <= set(events)
    actors = {e.actor for e in live.tracker.store.trace(mid) if e.event == "operator_replayed"}
    assert any(a and a.startswith("console:zhejiang") for a in actors), actors


def test_a_provincial_operator_cannot_open_another_provinces_case(live: Live) -> None:
    notice = new_message(
        Kind.CASE_NOTICE,
        "bureau:330681",
        ["bureau:330600"],
        ZHEJIANG_CASE,
        {"summary": BODY_TEXT},
        case=CASE_FACTS,
    )
    live.publish(notice)
    mid = str(notice.envelope.message_id)
    assert wait_for(lambda: len(live.tracker.store.obligations(mid)) == 1)
    assert wait_for(
        lambda: any(e.record.get("message_id") == mid for e in live.console.log.of_case(ZHEJIANG_CASE))
    )

    page = live.page("guangdong")
    response = page.goto(f"{live.base}/cases/{ZHEJIANG_CASE}")
    assert response is not None and response.status == 403
    assert "does not touch your province" in page.content()
    assert "bureau:330600" not in page.content()
    assert_no_body(page)
    shoot(page, "case-403")
    page.goto(f"{live.base}/log")
    assert page.locator(f"tr[data-message='{mid}']").count() == 0  # not Guangdong's traffic
    page.goto(f"{live.base}/obligations?within=10000")
    assert ZHEJIANG_CASE not in page.content()

    own = live.page("zhejiang")
    response = own.goto(f"{live.base}/cases/{ZHEJIANG_CASE}")
    assert response is not None and response.status == 200
    assert_no_body(own)

    events = {(e.event, (e.actor or "").split(" ")[0]) for e in live.tracker.store.trace(ZHEJIANG_CASE)}
    assert ("operator_denied", "console:guangdong") in events
    assert ("operator_viewed", "console:zhejiang") in events

    # a session that is not there is sent to log in, and a live fragment answers 401
    anonymous = live.browser.new_page()
    anonymous.goto(f"{live.base}/cases/{ZHEJIANG_CASE}")
    assert "/login" in anonymous.url
    assert anonymous.request.get(f"{live.base}/log/rows?after=0").status == 401
