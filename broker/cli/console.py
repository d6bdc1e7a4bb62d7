"""`referral-broker console [--port]`: the operator console, a web application on the routing log,
the tracker's database and the holding queues; `referral-broker console-operator add|remove|list`
manages who may log in to it.

RB_AMQP_URL: the operator's user (`provision` creates referral-operator). RB_CONSOLE_REPLAY_URL:
the router's user, needed only to replay quarantined input (which keeps the original sender's
user_id); without it the console offers no replay. RB_TRACKER_DATABASE_URL: the tracker's
database, which must exist (obligations, and the audit trail operator actions go into).
RB_CONSOLE_OPERATORS: the console's operators file (default console-operators.json, mode 600).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

from broker.settings import Settings

DEFAULT_PORT = 8480
DEFAULT_OPERATORS = "console-operators.json"


def _operators_file(args: argparse.Namespace) -> str:
    return str(args.operators or os.environ.get("RB_CONSOLE_OPERATORS") or DEFAULT_OPERATORS)


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    from broker.console.accounts import Accounts
    from broker.console.app import Console, serve
    from broker.store.tracker.existing import existing_engine

    accounts = Accounts(_operators_file(args))
    if not len(accounts):
        print(
            f"error: no console operators in {accounts.path}; add one with `referral-broker "
            "console-operator add LOGIN --scope national` (or --scope 33 for one province)",
            file=sys.stderr,
        )
        return 2
    engine = existing_engine(announce=True)
    replay_url = os.environ.get("RB_CONSOLE_REPLAY_URL") or None
    console = Console(
        settings.amqp_url, engine, accounts, replay_url=replay_url, router_shards=settings.router_shards
    )
    print(
        f"console on http://{args.host}:{args.port}/ for {len(accounts)} operators"
        + ("" if replay_url else " (no replays: RB_CONSOLE_REPLAY_URL is not set)"),
        file=sys.stderr,
        flush=True,
    )
    serve(console, args.host, args.port)
    return 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from broker.console.accounts import Accounts
    from broker.console.scope import Scope

    try:
        scope = Scope.parse(args.scope)
    except ValueError as exc:
        print(f"error: --{exc}", file=sys.stderr)
        return 2
    generated = not args.password_stdin
    password = secrets.token_urlsafe(18) if generated else sys.stdin.readline().rstrip("\n")
    accounts = Accounts(_operators_file(args))
    try:
        accounts.add(args.login, scope, password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"console operator {args.login} ({scope}) written to {accounts.path} (mode 600)")
    if generated:
        print(f"password (shown once, hand it over in person): {password}")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from broker.console.accounts import Accounts

    accounts = Accounts(_operators_file(args))
    if not accounts.remove(args.login):
        print(f"error: no console operator {args.login} in {accounts.path}", file=sys.stderr)
        return 1
    print(f"removed console operator {args.login} (sessions end when the console restarts)")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from broker.console.accounts import Accounts

    for operator in Accounts(_operators_file(args)).operators():
        print(f"{operator.login}  {operator.scope}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "console",
        help="serve the operator console (routing log, cases, obligations, quarantine, health) on a port",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--operators", help=f"operators file (default RB_CONSOLE_OPERATORS, else {DEFAULT_OPERATORS})"
    )
    p.set_defaults(func=cmd_console)

    p = sub.add_parser("console-operator", help="add, remove or list who may log in to the console")
    actions = p.add_subparsers(dest="console_operator_command", required=True, metavar="ACTION")
    a = actions.add_parser("add", help="add an operator, or give one a new password and scope")
    a.add_argument("login")
    a.add_argument(
        "--scope", required=True, help="national (sees everything) or a province's two digits, e.g. 33"
    )
    a.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (else one is generated)"
    )
    a.set_defaults(func=cmd_add)
    r = actions.add_parser("remove", help="remove an operator")
    r.add_argument("login")
    r.set_defaults(func=cmd_remove)
    actions.add_parser("list", help="list operators and their scopes").set_defaults(func=cmd_list)
    for q in (a, r):
        q.add_argument("--operators", help="operators file (default RB_CONSOLE_OPERATORS)")
    actions.choices["list"].add_argument("--operators", help="operators file (default RB_CONSOLE_OPERATORS)")
