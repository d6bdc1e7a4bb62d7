"""CLI of the demo: `referral-broker demo`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time
from typing import Any

from broker.settings import Settings


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from broker import logs
    from broker.tools.demo.behaviour import Shares
    from broker.tools.demo.console import KeptConsole
    from broker.tools.demo.defaults import compression_for
    from broker.tools.demo.provisioning import InboxType
    from broker.tools.demo.report import Summary, render
    from broker.tools.demo.run import DemoOptions, run_demo
    from broker.tools.demo.vhost import remove_kept
    from broker.tracker.calendar import BEIJING

    if args.remove:
        users = remove_kept(settings, args.remove)
        print(f"removed vhost {args.remove!r} and {users} users")
        return 0
    try:
        shares = Shares(late=args.late_share, silent=args.silent_share)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.configure("WARNING", stream=sys.stderr)  # the router logs every decision at INFO
    options = DemoOptions(
        cases=args.cases,
        compression=args.compression or compression_for(args.cases),
        days=args.days,
        start=datetime.combine(args.start, time(9), BEIJING),
        seed=args.seed,
        shares=shares,
        keep=args.keep,
        inboxes=InboxType(args.inboxes),
        sealed=not args.plaintext_bodies,
    )
    shown: list[Summary] = []

    def show(summary: Summary) -> None:
        print(render(summary), flush=True)
        if args.json:
            print(json.dumps(summary.to_json(), ensure_ascii=False), flush=True)
        shown.append(summary)

    def serve_console(summary: Summary, kept: KeptConsole) -> None:
        show(summary)  # before the console's wait, which ends only with Ctrl-C
        kept.serve_until_interrupted(lambda line: print(line, flush=True))

    summary = run_demo(settings, options, say=lambda line: print(line, flush=True), on_kept=serve_console)
    if not shown:
        show(summary)
    return 0 if summary.lost == 0 else 1


def _positive(kind: Any) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, not {text}")
    return value


def add_commands(sub: Any) -> None:
    from broker.tools.demo.defaults import (
        DEFAULT_CASES,
        DEFAULT_COMPRESSION,
        DEFAULT_DAYS,
        DEFAULT_LATE_SHARE,
        DEFAULT_SEED,
        DEFAULT_SILENT_SHARE,
        DEFAULT_START,
    )

    p = sub.add_parser(
        "demo",
        help="replay the 2019 campaign through the real broker and prove nothing is lost",
        description="Show the whole system at work in one command. In a scratch vhost of the broker in "
        "RB_AMQP_URL (an administrator's URL; the vhost is removed afterwards unless --keep), it "
        "provisions every province's bureau and police office, a sample of cities and counties (bureau, "
        "police, procuratorate), department offices and SAMR, each with its own RabbitMQ user; runs the "
        "router and the deadline tracker on a compressed clock; and replays a campaign shaped by the 2019 "
        "figures (sectors, violations, records and fines by sector and violation, one case in ten over "
        "the criminal threshold, joint actions and interviews), printed beside the report's, with "
        "vertical, cross-province and interdepartmental coordination, police referrals, transfers, "
        "directives and a few bad messages. Simulated recipients answer, some late and some never, so "
        "reminders, escalations and overdue notices fire. It prints progress, then a summary; 'lost' is "
        "measured by reading every inbox against what the router promised, and must be 0 (exit 1 "
        "otherwise).",
        epilog="Printed output holds counts only, never message bodies. Defaults run in about a minute.",
    )
    p.add_argument(
        "--cases",
        type=_positive(int),
        default=DEFAULT_CASES,
        help=f"cases to replay (default {DEFAULT_CASES})",
    )
    p.add_argument(
        "--compression",
        type=_positive(float),
        default=None,
        help=f"simulated seconds per real second (default {DEFAULT_COMPRESSION:.0f}, a simulated day in "
        f"0.72 s, for up to {DEFAULT_CASES} cases; slower in proportion for more, so the broker keeps up)",
    )
    p.add_argument(
        "--days",
        type=_positive(int),
        default=DEFAULT_DAYS,
        help="simulated calendar days; cases open in all but the last 30 (at most the first half) "
        f"(default {DEFAULT_DAYS}: the campaign's window, 1 April - 30 September 2019)",
    )
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        default=DEFAULT_START.date(),
        help="first simulated day, YYYY-MM-DD (default %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed of the campaign (default %(default)s)"
    )
    p.add_argument(
        "--late-share",
        type=_share,
        default=DEFAULT_LATE_SHARE,
        help="share of obligations answered late (default %(default)s)",
    )
    p.add_argument(
        "--silent-share",
        type=_share,
        default=DEFAULT_SILENT_SHARE,
        help="share of obligations never answered (default %(default)s)",
    )
    p.add_argument(
        "--inboxes",
        choices=["classic", "quorum"],
        default="classic",
        help="queue type of the participants' inboxes (default classic: a RabbitMQ with the default limit "
        "of 1,024 file descriptors stops accepting connections at about a hundred quorum queues; use "
        "quorum where the limit was raised, as production needs)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the vhost, its inboxes and the databases afterwards, and say how to look at them; "
        "an operator console runs over the demo (http://127.0.0.1:8480/ when free) until Ctrl-C",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="end with one JSON line: published, routed, quarantined, acknowledged, overdue, escalated, "
        "police_referrals, lost and more",
    )
    p.add_argument(
        "--plaintext-bodies",
        action="store_true",
        help="publish bodies in clear and run the router in its transitional mode (by default every "
        "body is sealed for its recipients and the router takes sealed bodies only)",
    )
    p.add_argument(
        "--remove", metavar="VHOST", help="remove a vhost kept by an earlier --keep, and its users"
    )
    p.set_defaults(func=cmd_demo)
