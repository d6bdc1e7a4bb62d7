"""`referral-broker quarantine list|show|replay|discard` and `dead-letter list|show|discard`.

RB_AMQP_URL: the operator's user (`provision` creates referral-operator, which may read the routing
log and both holding queues and nothing else), or for `replay` the router's user. The audit trail
is the tracker's database (RB_TRACKER_DATABASE_URL); actions refuse to run without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from broker.settings import Settings


def _trail(settings: Settings, required: bool) -> Any:
    from broker.store.operator_audit import OperatorTrail, operator
    from broker.store.tracker.existing import TrackerDatabaseError, existing_engine

    try:
        engine = existing_engine(announce=False)
    except TrackerDatabaseError as exc:
        if required:
            raise
        print(f"warning: not noted in the audit trail: {exc}", file=sys.stderr)
        return None
    return OperatorTrail(engine, operator(settings.amqp_url))


def _since(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected an ISO date or time, e.g. 2019-05-06 or 2019-05-06T09:00"
        ) from None


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from broker.quarantine import operations
    from broker.transport.quarantine import QUEUES, Filter

    wanted = Filter(args.stage, args.sender, args.since)
    shown, total = operations.held(settings.amqp_url, args.holding, _trail(settings, required=False), wanted)
    if args.json:
        print(json.dumps([h.summary() for h in shown], ensure_ascii=False))
        return 0
    for h in shown:
        who = h.facts.sender or h.user_id or "?"
        print(f"{h.id}  {h.at or '-'}  {h.stage}  {h.facts.kind or '?'}  {who}  {h.field}: {h.reason}")
    print(f"{len(shown)} of {total} held in {QUEUES[args.holding]}", file=sys.stderr)
    return 0


def _report(outcomes: list[Any]) -> int:
    for o in outcomes:
        if o.done:
            print(o.text)
        else:
            print(f"error: {o.text}", file=sys.stderr)
    return 0 if all(o.done for o in outcomes) else 1


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from broker.quarantine import operations

    if args.body and not args.reason:
        print("error: --body needs --reason: showing a body is audited with who and why", file=sys.stderr)
        return 2
    trail = _trail(settings, required=True)
    outcome = operations.show(
        settings.amqp_url, args.holding, args.id, trail, body_reason=args.reason if args.body else None
    )
    if outcome.held is None:
        print(f"error: {outcome.text}", file=sys.stderr)
        return 1
    h = outcome.held
    summary = h.summary()
    if args.json:
        summary["headers"] = h.headers
        if args.body:
            summary["body"] = h.body.decode("utf-8", "replace")
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    for key, value in summary.items():
        print(f"{key}: {'' if value is None else value}")
    for key, value in h.headers.items():
        print(f"header {key}: {value}")
    if args.body:
        print("body:")
        print(h.body.decode("utf-8", "replace"))
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from broker.quarantine import operations

    trail = _trail(settings, required=True)
    return _report(operations.replay(settings.amqp_url, args.ids, args.reason, trail))


def cmd_discard(args: argparse.Namespace, settings: Settings) -> int:
    from broker.quarantine import operations

    trail = _trail(settings, required=True)
    return _report(operations.discard(settings.amqp_url, args.holding, args.ids, args.reason, trail))


def add_actions(sub: Any, holding: str) -> None:
    """list, show, discard (and replay, for the quarantine) on one holding queue."""
    p = sub.add_parser("list", help=f"list what rb.{holding} holds (envelope metadata, never a body)")
    p.add_argument("--stage", help="only this stage (transport, contract, authentication, routing, ...)")
    p.add_argument("--sender", help="only this sender: an address, or a division code (any party there)")
    p.add_argument("--since", type=_since, help="only quarantined at or after this ISO time")
    p.add_argument("--json", action="store_true", help="one JSON array")
    p.set_defaults(func=cmd_list, holding=holding)

    p = sub.add_parser("show", help="headers and envelope metadata of one held message (audited)")
    p.add_argument("id", help="its id as `list` prints it (a message id, or sha256:<16 hex digits>)")
    p.add_argument("--body", action="store_true", help="also print the body (audited, needs --reason)")
    p.add_argument("--reason", help="why the body is needed (goes into the audit trail)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show, holding=holding)

    if holding == "quarantine":
        p = sub.add_parser(
            "replay",
            help="send quarantined inputs through the router again as their original sender (run as the "
            "router's user); the router checks everything again",
        )
        p.add_argument("ids", nargs="+", metavar="ID")
        p.add_argument("--reason", required=True, help="what was fixed (goes into the audit trail)")
        p.set_defaults(func=cmd_replay, holding=holding)

    p = sub.add_parser("discard", help=f"remove held messages from rb.{holding} for good (audited)")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--reason", required=True, help="why (goes into the audit trail)")
    p.set_defaults(func=cmd_discard, holding=holding)


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "quarantine",
        help="inspect, replay or discard rejected input in rb.quarantine (every action audited)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_actions(p.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION"), "quarantine")
