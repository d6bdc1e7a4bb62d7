"""`demo --keep` leaves an operator console over the demo's deployment: it followed the routing log
from the start, its operator's password is in a mode-600 file and in no line printed, and it
serves the demo's cases until it is stopped."""

from __future__ import annotations

import shutil
import stat
from datetime import datetime, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from broker import logs
from broker.settings import Settings
from broker.tools.demo.console import LOGIN, KeptConsole
from broker.tools.demo.report import Summary, render
from broker.tools.demo.run import DemoOptions, run_demo
from broker.tools.demo.vhost import remove_kept
from broker.tracker.calendar import BEIJING

pytestmark = pytest.mark.rabbitmq


def test_a_kept_demo_leaves_a_console_running(broker_root: Settings) -> None:
    said: list[str] = []
    seen: dict[str, object] = {}

    def look(summary: Summary, kept: KeptConsole) -> None:
        seen["vhost"] = unquote(urlsplit(kept.console.amqp_url).path.lstrip("/"))
        seen["workdir"] = kept.login_file.parent
        assert stat.S_IMODE(kept.login_file.stat().st_mode) == 0o600
        login, password = (line.split(": ", 1)[1] for line in kept.login_file.read_text().splitlines())
        assert login == LOGIN
        seen["password"] = password
        with httpx.Client(base_url=kept.url, timeout=10) as client:
            r = client.post("/login", data={"login": login, "password": password})
            assert r.status_code == 303
            log = client.get("/log")
            assert log.status_code == 200 and log.text.count("<tr class=") > 10
            campaign = client.get("/campaign")
            assert campaign.status_code == 200 and "cases with case facts" in campaign.text
            assert len(kept.console.log) == summary.routed + summary.quarantined  # from the first record
            case = next(line for line in summary.afterwards if "trace" in line).split()[-1]
            assert client.get(f"/cases/{case}").status_code == 200
        seen["url"] = kept.url

    options = DemoOptions(
        cases=12,
        days=20,
        compression=300_000,
        start=datetime.combine(datetime(2019, 4, 1).date(), time(9), BEIJING),
        keep=True,
    )
    try:
        summary = run_demo(broker_root, options, say=said.append, on_kept=look)
    finally:
        logs.configure()  # the demo quiets the router's per-decision log lines; restore the default
        if "vhost" in seen:
            remove_kept(broker_root, str(seen["vhost"]))
        if isinstance(seen.get("workdir"), Path):
            shutil.rmtree(str(seen["workdir"]), ignore_errors=True)
    assert summary.lost == 0 and "url" in seen
    printed = "\n".join([*said, render(summary)])
    assert str(seen["url"]) in printed and str(seen["password"]) not in printed
    with pytest.raises(httpx.TransportError):  # stopped once look() returned
        httpx.get(str(seen["url"]), timeout=2)
