"""The README's screenshots of the operator console (not a test): a small `demo --keep` run against
the local RabbitMQ (RB_AMQP_URL, an administrator), then Chromium (Playwright, headless) logs in to
the console it leaves and photographs the routing log and the campaign view.

    .venv/bin/python -m tests.browser.screenshot_console [--out deploy] [--cases 60]

The demo's participants, cases and companies are made up: the pictures show no personal data, and
no page shows a body. The vhost and the work directory are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import datetime, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM = os.environ.get("RB_CHROMIUM", "/usr/bin/chromium")
PAGES = {"console-log.png": ("/log", False), "console-campaign.png": ("/campaign", True)}
"""File, and the page with whether the whole page is shot (else the window)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="screenshot_console", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("deploy"))
    parser.add_argument("--cases", type=int, default=60)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from broker import logs
    from broker.settings import Settings
    from broker.tools.demo.console import KeptConsole
    from broker.tools.demo.report import Summary
    from broker.tools.demo.run import DemoOptions, run_demo
    from broker.tools.demo.vhost import remove_kept
    from broker.tracker.calendar import BEIJING

    settings = Settings()
    kept_at: list[tuple[str, Path]] = []

    def shoot(summary: Summary, kept: KeptConsole) -> None:
        kept_at.append((unquote(urlsplit(kept.console.amqp_url).path.lstrip("/")), kept.login_file.parent))
        login, password = (line.split(": ", 1)[1] for line in kept.login_file.read_text().splitlines())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(f"{kept.url}login")
                page.fill("input[name=login]", login)
                page.fill("input[name=password]", password)
                page.click("button:has-text('Log in')")
                page.wait_for_url("**/log")
                for name, (path, full) in PAGES.items():
                    page.goto(f"{kept.url.rstrip('/')}{path}")
                    page.screenshot(path=str(args.out / name), full_page=full)
                    print(f"wrote {args.out / name}")
            finally:
                browser.close()

    logs.configure("WARNING", stream=sys.stderr)
    options = DemoOptions(
        cases=args.cases,
        days=60,
        compression=200_000,
        start=datetime.combine(datetime(2019, 4, 1).date(), time(9), BEIJING),
        keep=True,
    )
    try:
        run_demo(settings, options, say=lambda line: None, on_kept=shoot)
    finally:
        for vhost, workdir in kept_at:
            remove_kept(settings, vhost)
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
