"""Benchmark of the operator console (not a test): 50 operators at once, each loading the pages
in turn, over a routing log of 100,000 records and a tracker database of real obligations;
prints p50 and p99 per page.

    .venv/bin/python -m tests.browser.bench_console [--operators 50] [--records 100000] [--rounds 10]

The console runs in its own process (uvicorn, one worker, as `referral-broker console` does), so
the load generator does not share its interpreter. Its routing log is filled directly with
decision records made by the real routing rules (broker/tools/records.py), copied under new ids
and cases; the tracker's database holds the obligations of the first few thousand of them. The
health page asks the local broker (RB_AMQP_URL, default vhost) at most every 2 s. The holding
queues are left out: every look at them is a pass over a RabbitMQ queue, measured by the
quarantine's own tests.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PASSWORD = "benchmark password 1"
PAGES = {
    "routing log": "/log",
    "routing log, by bureau": "/log?bureau=330600",
    "routing log, live rows": "/log/rows?after={upto}",
    "case timeline": "/cases/{case}",
    "obligations": "/obligations?within=48",
    "scoreboard": "/scoreboard",
    "health": "/health",
}


def records(count: int, tracked: int, database: str) -> tuple[list[dict[str, Any]], list[str]]:
    """`count` decision records and the cases of the first `tracked`, which go into the database."""
    from broker.domain.messages import Kind
    from broker.store.tracker.store import TrackerStore
    from broker.tools.records import Desk
    from broker.tracker.record import parse_record

    desk = Desk()
    start = datetime.now(UTC) - timedelta(days=20)
    pairs = [
        ("bureau:330681", "bureau:330600", Kind.ASSISTANCE_REQUEST),
        ("bureau:330600", "bureau:330681", Kind.CASE_NOTICE),
        ("bureau:440300", "bureau:440000", Kind.ESCALATION),
        ("bureau:110105", "bureau:110000", Kind.CASE_NOTICE),
    ]
    templates = [
        desk.records[desk.send(kind, sender, [to], start, case_id=f"T-{n}").message_id]
        for n, (sender, to, kind) in enumerate(pairs)
    ]
    out = []
    for n in range(count):
        record = copy.deepcopy(templates[n % len(templates)])
        record["message_id"] = str(uuid.uuid4())
        record["case_id"] = f"BENCH-{n // 5}"
        at = (start + timedelta(seconds=10 * n)).isoformat()
        record["sent_at"] = record["routed_at"] = at
        out.append(record)
    store = TrackerStore(database)
    for i in range(0, tracked, 500):
        store.ingest([parse_record(r) for r in out[i : min(i + 500, tracked)]], datetime.now(UTC))
    store.close()
    return out, sorted({r["case_id"] for r in out[:tracked]})


def serve(port: int, database: str, operators: str, count: int, ready: Any) -> None:
    import uvicorn

    from broker.console.accounts import Accounts
    from broker.console.app import Console, create_app
    from broker.settings import Settings
    from broker.store.tracker import db

    log, _ = records(count, 0, database)
    console = Console(Settings().amqp_url, db.create(database), Accounts(operators), follow=False)
    for record in log:
        console.log.append(record)
    ready.set()
    uvicorn.run(create_app(console), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def logged_in(base: str, login: str) -> Any:
    """An HTTP client with an operator's session. Everyone logs in before any page is timed: a
    login is a deliberately slow scrypt hash, which would otherwise be measured as pages' time."""
    import httpx

    client = httpx.AsyncClient(base_url=base, timeout=30)
    r = await client.post("/login", data={"login": login, "password": PASSWORD, "next": "/log"})
    if r.status_code != 303:
        raise SystemExit(f"login of {login} failed: {r.status_code}")
    return client


async def operator(
    client: Any, login: str, cases: list[str], rounds: int, took: dict[str, list[float]], pause: float
) -> None:
    """Load the pages in turn, pausing between 0.5 and 1.5 times `pause` after each (people do not
    click in step)."""
    rng = random.Random(login)
    for n in range(rounds):
        for name, path in PAGES.items():
            url = path.format(upto=99_990, case=cases[(n * 7 + hash(login)) % len(cases)])
            started = time.perf_counter()
            r = await client.get(url)
            took[name].append(time.perf_counter() - started)
            if r.status_code != 200:
                raise SystemExit(f"{name}: HTTP {r.status_code}")
            if pause:
                await asyncio.sleep(pause * rng.uniform(0.5, 1.5))


async def operators(
    base: str,
    pid: int,
    logins: list[str],
    cases: list[str],
    rounds: int,
    took: dict[str, list[float]],
    pause: float,
) -> tuple[float, float, float]:
    """Every operator at once; the wall time, and the CPU time of the console (`pid`) and of this
    process meanwhile, from the moment all are logged in."""
    clients = await asyncio.gather(*(logged_in(base, login) for login in logins))
    try:
        server_cpu, own_cpu, started = cpu_seconds(pid), time.process_time(), time.perf_counter()
        await asyncio.gather(
            *(operator(c, lg, cases, rounds, took, pause) for c, lg in zip(clients, logins, strict=True))
        )
        return (
            time.perf_counter() - started,
            cpu_seconds(pid) - server_cpu,
            time.process_time() - own_cpu,
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_console", description=__doc__.split("\n\n")[0])
    parser.add_argument("--operators", type=int, default=50)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--tracked", type=int, default=5_000, help="records whose obligations are tracked")
    parser.add_argument("--rounds", type=int, default=10, help="times each operator loads every page")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds each operator waits after a page (0: never; the live log polls every 1 s)",
    )
    args = parser.parse_args(argv)

    from broker.console.accounts import Accounts
    from broker.console.scope import Scope
    from tests.support.ports import free_port

    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{Path(tmp) / 'tracker.sqlite3'}"
        began = time.perf_counter()
        _, cases = records(args.tracked, args.tracked, database)
        accounts = Accounts(Path(tmp) / "operators.json")
        logins = [f"op{n}" for n in range(args.operators)]
        for n, login in enumerate(logins):
            accounts.add(login, Scope(None) if n % 2 else Scope("33"), PASSWORD)
        port = free_port()
        ready = multiprocessing.get_context("spawn").Event()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(port, database, str(accounts.path), args.records, ready), daemon=True
        )
        server.start()
        try:
            if not ready.wait(600):
                raise SystemExit("the console did not start")
            time.sleep(1.0)
            print(
                f"set up in {time.perf_counter() - began:.0f} s: {args.records:,} routing-log records, "
                f"{args.tracked:,} tracked, {args.operators} operators x {args.rounds} rounds",
                file=sys.stderr,
            )
            base = f"http://127.0.0.1:{port}"
            alone: dict[str, list[float]] = {name: [] for name in PAGES}
            assert server.pid is not None
            asyncio.run(operators(base, server.pid, logins[:1], cases, args.rounds, alone, 0.0))
            took: dict[str, list[float]] = {name: [] for name in PAGES}
            load = os.getloadavg()[0]
            wall, server_cpu, own_cpu = asyncio.run(
                operators(base, server.pid, logins, cases, args.rounds, took, args.pause)
            )
        finally:
            server.terminate()
            server.join(10)
    print(f"{'page':<26} {'alone p50':>9} {'alone p99':>9} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, times in took.items():
        q, a = statistics.quantiles(times, n=100), statistics.quantiles(alone[name], n=100)
        print(
            f"{name:<26} {a[49] * 1000:>9.0f} {a[98] * 1000:>9.0f} {len(times):>8} "
            f"{q[49] * 1000:>8.0f} {q[98] * 1000:>8.0f}"
        )
    every = [t for ts in took.values() for t in ts]
    print(
        f"{'every page':<26} {'':>9} {'':>9} {len(every):>8} {statistics.median(every) * 1000:>8.0f} "
        f"{statistics.quantiles(every, n=100)[98] * 1000:>8.0f}"
    )
    print(
        f"{len(every) / wall:.0f} pages/s with {args.operators} operators at once; load average "
        f"{load:.1f} on {os.cpu_count()} cores when they started (other work shares the machine)"
        + (f", each pausing {args.pause:g} s after a page" if args.pause else ", none pausing")
    )
    print(
        f"CPU per page: console {server_cpu / len(every) * 1000:.1f} ms ({server_cpu / wall:.0%} of a core), "
        f"load generator {own_cpu / len(every) * 1000:.1f} ms ({own_cpu / wall:.0%} of a core)"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RB_LOG_LEVEL", "WARNING")
    sys.exit(main())
