"""`referral-broker` commands of the tracker: track, trace, overdue, stats, holidays, tracker-bench.

Environment: see broker/tracker/settings.py (RB_AMQP_URL as the system user, RB_TRACKER_DATABASE_URL,
RB_TRACKER_SCAN_INTERVAL, RB_TRACKER_RULES, RB_TRACKER_LEASE).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from broker.settings import Settings

if TYPE_CHECKING:
    from broker.tracker.settings import TrackerSettings


def _tracker_settings() -> TrackerSettings:
    """Imported here, not at the top: every command's parser loads this module, and the tracker's
    settings bring the database libraries, which only the tracker's commands need."""
    from broker.tracker.settings import TrackerSettings

    return TrackerSettings()


def _store(settings: TrackerSettings) -> Any:
    from broker.store.tracker.store import TrackerStore
    from broker.tracker.rules import Policy

    policy = Policy.load(settings.rules_file) if settings.rules_file else Policy()
    return TrackerStore(settings.database_url, policy)


def _existing_store() -> Any:
    from broker.store.tracker.existing import existing_engine

    existing_engine().dispose()
    return _store(_tracker_settings())


def cmd_track(args: argparse.Namespace, _: Settings) -> int:
    from broker import logs, metrics
    from broker.tracker.service import Tracker

    settings = _tracker_settings()
    logs.configure(args.log_level)
    tracker = Tracker(
        settings.amqp_url,
        _store(settings),
        scan_interval_s=args.scan_interval or settings.scan_interval_s,
        prefetch=args.prefetch,
        lease_s=settings.lease_s,
    )
    tracker.install_signal_handlers()
    metrics.serve(args.metrics_port, metrics.TRACKER, args.metrics_host)
    tracker.run()
    return 0


def cmd_trace(args: argparse.Namespace, _: Settings) -> int:
    from broker.store.tracker.db import local_time

    store = _existing_store()
    events = store.trace(args.id)
    if args.json:
        print(json.dumps([e.to_dict() for e in events], ensure_ascii=False, indent=2))
        return 0 if events else 1
    if not events:
        print(f"nothing known about {args.id} (a message id or a case id)", file=sys.stderr)
        return 1
    rows = [
        [local_time(e.at), e.event, _short(e.message_id), _short(e.by_message), e.actor or "", e.detail]
        for e in events
    ]
    _table(["time (Beijing)", "event", "message", "by", "party", "detail"], rows)
    return 0


def cmd_overdue(args: argparse.Namespace, _: Settings) -> int:
    from broker.store.tracker.db import duration_text
    from broker.store.tracker.model import PROVISIONAL, due_text
    from broker.tracker.clock import SystemClock

    now = SystemClock().now()
    store = _existing_store()
    late = store.overdue(now, args.bureau, args.limit)
    if args.json:
        print(json.dumps([o.to_dict(now) for o in late], ensure_ascii=False, indent=2))
        return 0
    if not late:
        print("nothing overdue" + (f" for {args.bureau}" if args.bureau else ""))
        return 0
    rows = [
        [
            o.owed_by,
            o.what,
            o.owed_to,
            o.case_id,
            _short(o.regarding),
            due_text(o.due_at, o.provisional),
            duration_text((now - o.due_at).total_seconds()),
        ]
        for o in late
    ]
    _table(["owed by", "what", "owed to", "case", "regarding", "due (Beijing)", "overdue by"], rows)
    print(f"{len(late)} overdue")
    if any(o.provisional for o in late):
        print(
            f"{PROVISIONAL}: counted on the statutory holidays of a year whose holiday notice is not loaded "
            "(referral-broker holidays load FILE recomputes it)"
        )
    return 0


def cmd_stats(args: argparse.Namespace, _: Settings) -> int:
    from broker.store.tracker.db import duration_text
    from broker.tracker.clock import SystemClock

    now = SystemClock().now()
    stats = _existing_store().stats(now)
    if args.json:
        print(json.dumps([s.to_dict() for s in stats], ensure_ascii=False, indent=2))
        return 0
    rows = [
        [
            s.party,
            str(s.obligations),
            f"{s.share_on_time:.0%}" if s.share_on_time is not None else "-",
            duration_text(s.median_answer_s) if s.median_answer_s is not None else "-",
            str(s.on_time),
            str(s.late),
            str(s.open),
            str(s.overdue),
        ]
        for s in stats
    ]
    header = ["party", "obligations", "share on time", "median answer", "on time", "late", "open", "overdue"]
    _table(header, rows)
    print("share on time: answered by the due time, out of all answered or past due")
    return 0


def cmd_holidays_load(args: argparse.Namespace, _: Settings) -> int:
    from broker.tracker.calendar import HolidayFileError, read_holiday_file
    from broker.tracker.clock import SystemClock

    try:
        days, years = read_holiday_file(args.file)
    except (HolidayFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    store = _store(_tracker_settings())
    moved = store.load_holidays(days, years, args.file, SystemClock().now())
    holidays = sum(1 for d in days if not d.working)
    print(
        f"loaded {', '.join(map(str, years))}: {holidays} holidays, {len(days) - holidays} adjusted working "
        f"days; {moved} open obligations got a new due time, none of their due times is provisional now"
    )
    return 0


def cmd_holidays_list(args: argparse.Namespace, _: Settings) -> int:
    from broker.tracker.calendar import BEIJING, Source
    from broker.tracker.clock import SystemClock

    store = _store(_tracker_settings())
    loaded = store.holidays()
    if not loaded:
        print(
            "no year loaded; the calendar uses the chinese-calendar package, else Monday to Friday less "
            "the statutory holidays (due times PROVISIONAL)"
        )
    for year, source, days in loaded:
        print(f"{year} (from {source}): {len(days)} special days")
        for d in days:
            print(f"  {d.day.isoformat()} {'workday' if d.working else 'holiday'} {d.name}")
    this_year = SystemClock().now().astimezone(BEIJING).year
    for year in (this_year, this_year + 1):
        if store.calendar.source_of(year) is Source.FALLBACK:
            print(
                f"{year}: no holiday notice loaded and chinese-calendar does not know it: statutory "
                "holidays only, due times PROVISIONAL (load the notice: referral-broker holidays load FILE)"
            )
    return 0


def cmd_bench(args: argparse.Namespace, _: Settings) -> int:
    from broker.tools.bench import tracker as bench

    return bench.run(args)


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "track",
        help="run the deadline tracker until SIGTERM (RB_AMQP_URL: the system user's URL)",
        description="Consume the routing decision records, keep obligations and deadlines, send "
        "reminders, escalations and overdue notices as system:000000.",
        epilog="Environment: RB_AMQP_URL (the system-000000 user), RB_TRACKER_DATABASE_URL (default "
        "sqlite:///tracker.sqlite3), RB_TRACKER_SCAN_INTERVAL (s, default 30), RB_TRACKER_RULES (JSON "
        "overrides of the deadline rules), RB_TRACKER_LEASE (s, default 60).",
    )
    p.add_argument("--scan-interval", type=float, help="seconds between scans for due notices")
    p.add_argument("--prefetch", type=int, default=256, help="unacked records held at once (default 256)")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="serve Prometheus metrics (rb_tracker_obligations, rb_tracker_notices_total) on this port "
        "(0: off)",
    )
    p.add_argument(
        "--metrics-host",
        default=None,
        help="address the metrics port binds to (default RB_METRICS_HOST, else 127.0.0.1)",
    )
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("trace", help="print the history of a message id or a case id")
    p.add_argument("id", help="a message id (what happened to it and what it caused) or a case id")
    p.add_argument("--json", action="store_true", help="one JSON array of events")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("overdue", help="list open obligations past their due time")
    p.add_argument(
        "--bureau", help="only what this party owes: a division code (any party there) or an address"
    )
    p.add_argument("--limit", type=int, help="at most this many, oldest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_overdue)

    p = sub.add_parser(
        "stats", help="per party: share answered within the deadline, median answer time, open, overdue"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("holidays", help="the official calendar for years chinese-calendar does not know")
    holidays = p.add_subparsers(dest="holidays_command", required=True, metavar="ACTION")
    q = holidays.add_parser(
        "load",
        help="load a year's holiday notice from a CSV file (replaces the years it names)",
        description="CSV, one date a line: date,kind[,name] with kind 'holiday' or 'workday' (an adjusted "
        "working weekend). List every holiday and adjusted working day of each year in the file.",
    )
    q.add_argument("file")
    q.set_defaults(func=cmd_holidays_load)
    q = holidays.add_parser("list", help="show the loaded years")
    q.set_defaults(func=cmd_holidays_list)

    from broker.tools.bench import tracker_options as bench

    p = sub.add_parser(
        "tracker-bench",
        help="benchmark the tracker on SQLite and PostgreSQL (prints figures)",
        description=bench.DESCRIPTION,
        epilog="PostgreSQL: RB_TEST_POSTGRES_URL (default "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test); "
        "the benchmark uses a schema of its own and drops it.",
    )
    bench.add_arguments(p)
    p.set_defaults(func=cmd_bench)


def _short(message_id: str | None) -> str:
    if message_id and message_id.startswith("sha256:"):  # a quarantined message named by its digest
        return message_id[:15]
    return message_id[:8] if message_id else ""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    widths[-1] = len(header[-1])  # the last column runs free
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
