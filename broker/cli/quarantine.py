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
    from broker.cli.tracker import TrackerDatabaseError, existing_engine
    from broker.store.operator_audit import OperatorTrail, operator

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
    from broker.transport.quarantine import QUEUES, Filter, holding_queue

    wanted = Filter(args.stage, args.sender, args.since)
    with holding_queue(settings.amqp_url, QUEUES[args.holding]) as queue:
        held = queue.held()
    trail = _trail(settings, required=False)
    if trail is not None:
        trail.note_quarantined(held)
    shown = [h for h in held if wanted.admits(h)]
    if args.json:
        print(json.dumps([h.summary() for h in shown], ensure_ascii=False))
        return 0
    for h in shown:
        who = h.facts.sender or h.user_id or "?"
        print(f"{h.id}  {h.at or '-'}  {h.stage}  {h.facts.kind or '?'}  {who}  {h.field}: {h.reason}")
    print(f"{len(shown)} of {len(held)} held in {QUEUES[args.holding]}", file=sys.stderr)
    return 0


def _chosen(queue: Any, wanted: list[str]) -> tuple[list[Any], list[str]]:
    from broker.transport.quarantine import select

    return select(queue.held(), wanted)


def _missing(missing: list[str], name: str) -> None:
    for m in missing:
        print(
            f"error: {m} is not held in {name} (replayed or discarded already? `referral-broker trace "
            f"{m}` shows its story; `referral-broker {name.removeprefix('rb.')} list` shows what is held)",
            file=sys.stderr,
        )


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from broker.store.operator_audit import reason_text
    from broker.transport.quarantine import QUEUES, holding_queue

    if args.body and not args.reason:
        print("error: --body needs --reason: showing a body is audited with who and why", file=sys.stderr)
        return 2
    trail = _trail(settings, required=True)
    name = QUEUES[args.holding]
    with holding_queue(settings.amqp_url, name) as queue:
        chosen, missing = _chosen(queue, [args.id])
    _missing(missing, name)
    if not chosen:
        return 1
    trail.note_quarantined(chosen)
    for h in chosen:
        summary = h.summary()
        summary["headers"] = h.headers
        event, detail = "operator_shown", "headers and envelope metadata"
        if args.body:
            event, detail = "operator_body_shown", f"body shown: {reason_text(args.reason)}"
        trail.action(h, event, detail)
        if args.json:
            if args.body:
                summary["body"] = h.body.decode("utf-8", "replace")
            print(json.dumps(summary, ensure_ascii=False))
            continue
        for key, value in summary.items():
            if key != "headers":
                print(f"{key}: {'' if value is None else value}")
        for key, value in h.headers.items():
            print(f"header {key}: {value}")
        if args.body:
            print("body:")
            print(h.body.decode("utf-8", "replace"))
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from broker.store.operator_audit import reason_text
    from broker.transport.quarantine import QUEUES, OperatorError, holding_queue

    trail = _trail(settings, required=True)
    name = QUEUES["quarantine"]
    failed = 0
    with holding_queue(settings.amqp_url, name) as queue:
        chosen, missing = _chosen(queue, args.ids)
        trail.note_quarantined(chosen)
        for h in chosen:
            try:
                queue.replay(h)
            except OperatorError as exc:
                failed += 1
                print(f"error: {exc}", file=sys.stderr)
                continue
            trail.action(
                h, "operator_replayed", f"replayed to rb.inbound as {h.user_id}: {reason_text(args.reason)}"
            )
            print(
                f"replayed {h.id} as {h.user_id}; the router checks it again (`referral-broker trace {h.id}`)"
            )
    _missing(missing, name)
    return 1 if failed or missing else 0


def cmd_discard(args: argparse.Namespace, settings: Settings) -> int:
    from broker.store.operator_audit import reason_text
    from broker.transport.quarantine import QUEUES, holding_queue

    trail = _trail(settings, required=True)
    name = QUEUES[args.holding]
    with holding_queue(settings.amqp_url, name) as queue:
        chosen, missing = _chosen(queue, args.ids)
        trail.note_quarantined(chosen)
        for h in chosen:
            queue.discard(h)
            trail.action(h, "operator_discarded", f"discarded from {name}: {reason_text(args.reason)}")
            print(f"discarded {h.id}")
    _missing(missing, name)
    return 1 if missing else 0


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
