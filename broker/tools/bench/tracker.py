"""Benchmark of the tracker's state, on SQLite and PostgreSQL. Prints figures; asserts nothing.

    referral-broker tracker-bench                    # both databases, 1,000,000 open obligations
    python -m broker.tools.bench.tracker --obligations 100000 --databases sqlite

1. Acknowledgements ingested per second: assistance requests are ingested, then a receipt_ack for
   each, in the worker's batches (100 records a transaction) and one record a transaction. Records
   come from the real routing rules (broker/tools/records.py Desk); RabbitMQ is not involved.
2. One overdue scan with 1,000,000 open obligations: the rows are bulk-inserted directly, 1,000 of
   them due for a notice now and the rest due later. Timed: the scanner's indexed query, a full claim
   (recording 500 notices with their messages), a scan with nothing due, and the operator's
   `overdue` views (everything overdue, and one bureau's).

PostgreSQL: RB_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test); the
benchmark works in a schema of its own and drops it afterwards.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import text

from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Kind
from broker.store.scratch import postgres_reachable, temporary_database
from broker.store.tracker.schema import obligations
from broker.store.tracker.store import TrackerStore
from broker.tools.bench.tracker_options import DESCRIPTION, add_arguments
from broker.tools.records import Desk
from broker.tracker.calendar import BEIJING
from broker.tracker.record import Routed
from broker.tracker.rules import Policy

T = TypeVar("T")

COLUMNS = (
    "id",
    "rule",
    "what",
    "regarding",
    "case_id",
    "owed_by",
    "owed_to",
    "basis",
    "chased",
    "start_at",
    "extra_days",
    "due_at",
    "reminder_at",
    "revision",
    "state",
    "next_notice_at",
    "created_at",
)


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    out = work()
    return time.perf_counter() - started, out


def make_acks(count: int) -> tuple[list[Routed], list[Routed]]:
    """Requests among county bureaus of Zhejiang and a receipt_ack for each."""
    desk = Desk()
    start = datetime(2024, 9, 2, 9, tzinfo=BEIJING)
    pairs = [
        ("bureau:330681", "bureau:330600"),
        ("bureau:330602", "bureau:330600"),
        ("bureau:330681", "bureau:330602"),
    ]
    requests, acks = [], []
    for n in range(count):
        sender, to = pairs[n % len(pairs)]
        at = start + timedelta(seconds=n)
        request = desk.send(Kind.ASSISTANCE_REQUEST, sender, [to], at, f"B-{n}")
        requests.append(request)
        acks.append(desk.reply(request, Kind.RECEIPT_ACK, to, at + timedelta(hours=2)))
    return requests, acks


def bench_acks(url: str, requests: list[Routed], acks: list[Routed], batch: int) -> float:
    store = TrackerStore(url)
    now = datetime.now(UTC)
    for i in range(0, len(requests), 100):
        store.ingest(requests[i : i + 100], now)
    seconds, _ = timed(lambda: [store.ingest(acks[i : i + batch], now) for i in range(0, len(acks), batch)])
    closed = sum(1 for o in store.obligations() if o.rule == "receipt" and o.state.value == "closed")
    store.close()
    if closed != len(acks):
        raise RuntimeError(f"only {closed} of {len(acks)} receipts closed")
    return len(acks) / seconds


def bulk_load(store: TrackerStore, count: int, due_now: int, now: datetime) -> tuple[float, float]:
    """Insert ``count`` open obligations directly; ``due_now`` of them have a notice due at ``now``.
    As a bulk load is done: the secondary indexes are dropped, the rows copied in primary key order,
    then the indexes built again (the same definitions, from schema.py). Returns (load s, index s)."""
    registry = default_registry()
    bureaus = [f"bureau:{code}" for code in registry if not registry.is_retired(code)][:3000]
    rule = Policy().rule("assistance_reply")
    rng = random.Random(7)
    base = now.timestamp()

    def rows() -> Any:
        for n in range(count):
            start = base - rng.uniform(0, 10 * 86400)
            due = base + rng.uniform(3600, 30 * 86400) if n >= due_now else base - 3600
            reminder = start + (due - start) * 0.8
            next_at = base - 60 if n < due_now else max(reminder, base + 60)
            yield (
                str(uuid.UUID(int=(n << 64) | rng.getrandbits(64))),  # ascending: appended to the key
                rule.id,
                rule.what,
                str(uuid.uuid4()),
                f"BENCH-{n}",
                bureaus[n % len(bureaus)],
                bureaus[(n * 7 + 1) % len(bureaus)],
                rule.basis,
                True,
                start,
                0,
                due,
                reminder,
                0,
                "open",
                next_at,
                start,
            )

    def load() -> None:
        raw = store.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if store.postgres:
                with cursor.copy(f"COPY tracker_obligations ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows():
                        copy.write_row(row)
                raw.commit()
            else:
                marks = ", ".join("?" for _ in COLUMNS)
                cursor.execute("BEGIN")
                cursor.executemany(
                    f"INSERT INTO tracker_obligations ({', '.join(COLUMNS)}) VALUES ({marks})", rows()
                )
                cursor.execute("COMMIT")
        finally:
            raw.close()

    with store.engine.begin() as conn:
        for index in obligations.indexes:
            index.drop(conn)
    load_s, _ = timed(load)

    def build() -> None:
        with store.engine.begin() as conn:
            for index in obligations.indexes:
                index.create(conn)
            conn.execute(text("ANALYZE tracker_obligations" if store.postgres else "ANALYZE"))

    index_s, _ = timed(build)
    return load_s, index_s


def bench_scan(url: str, count: int, due_now: int) -> dict[str, Any]:
    store = TrackerStore(url)
    now = datetime.now(UTC)
    load_s, index_s = bulk_load(store, count, due_now, now)
    out: dict[str, Any] = {"load_s": load_s, "index_s": index_s}
    query = text(
        "SELECT id FROM tracker_obligations WHERE next_notice_at <= :now ORDER BY next_notice_at LIMIT 500"
    )
    with store.engine.connect() as conn:
        out["query_s"], rows = timed(lambda: conn.execute(query, {"now": now.timestamp()}).all())
        out["query_rows"] = len(rows)
        explain = "EXPLAIN " if store.postgres else "EXPLAIN QUERY PLAN "
        plan = conn.execute(text(explain + query.text), {"now": now.timestamp()}).all()
        out["plan"] = " | ".join(str(r[-1]) for r in plan)
    out["claim_s"], claimed = timed(lambda: store.claim_notices(now, "bench", limit=500))
    out["claimed"] = len(claimed)
    idle = store.claim_notices(now - timedelta(days=1), "bench")
    out["idle_claim_s"], _ = timed(lambda: store.claim_notices(now - timedelta(days=1), "bench"))
    assert not idle
    out["overdue_all_s"], late = timed(lambda: store.overdue(now))
    out["overdue_all"] = len(late)
    some = late[0].owed_by if late else "bureau:330681"
    out["overdue_bureau_s"], mine = timed(lambda: store.overdue(now, some))
    out["overdue_bureau"] = len(mine)
    store.close()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m broker.tools.bench.tracker", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    print(
        f"making {args.acks} requests and their receipt acknowledgements with the routing rules ...",
        flush=True,
    )
    requests, acks = make_acks(args.acks)
    kinds: list[Literal["sqlite", "postgres"]] = args.databases
    for kind in kinds:
        if kind == "postgres" and not postgres_reachable():
            print("postgres: not reachable (RB_TEST_POSTGRES_URL); skipped")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for batch in (100, 1):
                with temporary_database(kind, Path(tmp)) as url:
                    rate = bench_acks(url, requests, acks, batch)
                print(
                    f"{kind}: acknowledgements ingested, {batch:>3} a transaction: {rate:8.0f} /s", flush=True
                )
            with temporary_database(kind, Path(tmp)) as url:
                r = bench_scan(url, args.obligations, args.due)
        ms = {k: v * 1000 for k, v in r.items() if k.endswith("_s")}
        for line in (
            f"bulk load of {args.obligations:,} open obligations: {r['load_s']:.1f} s, "
            f"then their 5 indexes: {r['index_s']:.1f} s",
            f"scanner query (due now, limit 500): {ms['query_s']:.2f} ms, {r['query_rows']} rows",
            f"  plan: {r['plan']}",
            f"one scan of 500 overdue obligations, recording {r['claimed']} notices: {ms['claim_s']:.0f} ms",
            f"one scan with nothing due: {ms['idle_claim_s']:.2f} ms",
            f"overdue view, all ({r['overdue_all']}): {ms['overdue_all_s']:.0f} ms",
            f"overdue view, one bureau ({r['overdue_bureau']}): {ms['overdue_bureau_s']:.1f} ms",
        ):
            print(f"{kind}: {line}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
