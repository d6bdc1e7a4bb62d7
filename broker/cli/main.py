"""`referral-broker`: set up the broker, run the router, publish, follow the routing log, check contracts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from broker.cli.arguments import participants as _participants
from broker.settings import Settings, SettingsError


def cmd_declare(args: argparse.Namespace, settings: Settings) -> int:
    from broker.transport import topology

    count = topology.declare_at(settings.amqp_url, settings.router_shards)
    print(f"declared {count} exchanges and queues on {settings.vhost!r}")
    return 0


def cmd_provision(args: argparse.Namespace, settings: Settings) -> int:
    from broker import credentials
    from broker.limits import UserLimits
    from broker.transport.provision import provision

    participants = _participants(args, settings)
    if args.public_keys:  # before the broker is touched: a keys folder that does not load changes nothing
        from broker.cli.keys import register_at_provision

        if not args.deployment_key:
            print("error: --public-keys needs --deployment-key FILE, to sign the directory", file=sys.stderr)
            return 2
        registered = register_at_provision(args, sorted(str(a) for a in participants.addresses))
        if registered:
            return registered
    try:
        report = provision(
            settings,
            participants,
            rotate_passwords=args.rotate_passwords,
            progress=True,
            limits=UserLimits(args.max_connections, args.max_channels),
        )
    except credentials.CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(participants)} participants: {len(report.created)} users created or re-keyed, "
        f"{len(report.updated)} updated, {report.inboxes} inboxes declared"
    )
    if report.legacy_inboxes:
        print(
            f"warning: {len(report.legacy_inboxes)} inboxes keep the old guessable names (e.g. "
            f"{report.legacy_inboxes[0]}) and still receive copies; once each participant reads its new "
            "inbox, drain and delete them (deploy/PRODUCTION.md, section 3)",
            file=sys.stderr,
        )
    out = Path(args.credentials_out)
    credentials.merge_file(out, report.handover)
    print(
        f"credentials written to {out} (mode 600): {len(report.created)} new passwords and every "
        "participant's inbox name; hand each participant its own entry"
    )
    entries = credentials.load_file(out)
    for user, path in args.service_credentials:
        if user not in entries:
            print(f"error: --service-credentials: {user} is not a provisioned user", file=sys.stderr)
            return 2
        credentials.merge_file(path, {user: entries[user]})
        print(f"{user}'s credentials written to {path} (mode 600)")
    return 0


def _user_and_path(value: str) -> tuple[str, str]:
    user, sep, path = value.partition("=")
    if not sep or not user or not path:
        raise argparse.ArgumentTypeError("expected USER=FILE")
    return user, path


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from broker import credentials
    from broker.domain.address import Address
    from broker.domain.validation import ContractError, parse_message
    from broker.transport.client import ParticipantClient, PublishRefused

    if args.password is not None:
        print(f"error: {credentials.PASSWORD_FLAG_REFUSED}", file=sys.stderr)
        return 2
    address = Address.parse(args.as_address)
    try:
        user = f"{settings.user_prefix}{address.username}"
        password = credentials.for_user(user, args.credentials).password
    except credentials.CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raw = Path(args.file).read_bytes()
    try:
        message = parse_message(raw)
    except ContractError as exc:
        print(f"error: {args.file} is not a valid message: {exc}", file=sys.stderr)
        return 1
    if message.envelope.sender != str(address):
        print(
            f"warning: envelope.sender is {message.envelope.sender}; the router will quarantine it",
            file=sys.stderr,
        )
    url = settings.amqp_url_for(f"{settings.user_prefix}{address.username}", password)
    from broker.domain.routing import RoutingRefused
    from broker.sealing import Sealing, SealingError

    try:
        sealing = Sealing.of_participant(settings.sealing)
    except SealingError as exc:
        print(f"error: RB_KEYRING / RB_KEY_DIRECTORY / RB_DEPLOYMENT_PUBLIC_KEY: {exc}", file=sys.stderr)
        return 2
    if sealing is None:
        print(
            "warning: no RB_KEYRING: the body goes in clear, which a router taking sealed bodies only "
            "refuses (README, 'Sealed bodies')",
            file=sys.stderr,
        )
    with ParticipantClient(url, address, sealing=sealing) as client:
        try:
            client.publish(message)
        except (PublishRefused, SealingError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except RoutingRefused as exc:  # found while computing whom to seal it for
            print(f"error: the router would refuse it: {exc}", file=sys.stderr)
            return 1
    print(f"published {message.envelope.kind.value} {message.envelope.message_id} (confirmed by the broker)")
    return 0


def cmd_dead_letter_refeed(args: argparse.Namespace, settings: Settings) -> int:
    from broker.transport.deadletter import RefeedReport, RefeedStopped, refeed

    def progress(report: RefeedReport) -> None:
        if report.total % 100 == 0:
            print(f"re-fed {report.total}", flush=True)

    stopped = None
    try:
        report = refeed(settings.amqp_url, limit=args.limit, progress=progress)
    except RefeedStopped as exc:
        report, stopped = exc.report, exc
    for queue, count in sorted(report.refed.items()):
        print(f"re-fed {count} dead letters of {queue}")
    print(f"{report.total} re-fed; {report.left} of other queues left in rb.dead-letter")
    if stopped is not None:
        print(f"error: {stopped}", file=sys.stderr)
        return 1
    return 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from broker.domain.messages import Kind
    from broker.transport.tail import follow

    if args.kind and args.kind not in Kind._value2member_map_:
        known = ", ".join(k.value for k in Kind)
        print(f"error: --kind: not a message kind (known: {known})", file=sys.stderr)
        return 2
    return follow(settings, bureau=args.bureau, case_id=args.case, kind=args.kind, count=args.count)


def cmd_police_example(args: argparse.Namespace, settings: Settings) -> int:
    from broker.tools import police_example

    return police_example.main(args.rest)


def cmd_refresh_divisions(args: argparse.Namespace, settings: Settings) -> int:
    from broker.tools import registry_refresh

    return registry_refresh.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referral-broker",
        description="Route case referrals between market-regulation bureaus, departments and police "
        "over RabbitMQ. `referral-broker --debug COMMAND ...` shows the traceback of a failure.",
        epilog="Environment: RB_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/), RB_MANAGEMENT_URL, "
        "RB_DATABASE_URL (default sqlite:///referral-broker.sqlite3), RB_PARTICIPANTS, RB_USER_PREFIX, "
        "RB_INBOX_SECRET or RB_INBOX_SECRET_FILE (provision), RB_PASSWORD, RB_INBOX, RB_CREDENTIALS.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback when a command fails")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("declare", help="declare exchanges and queues (idempotent)")
    p.set_defaults(func=cmd_declare)

    from broker.limits import DEFAULT_MAX_CHANNELS, DEFAULT_MAX_CONNECTIONS

    p = sub.add_parser("provision", help="create or update participants' users, permissions and inboxes")
    p.add_argument(
        "participants", nargs="?", help="participants file, one address a line (default RB_PARTICIPANTS)"
    )
    p.add_argument(
        "--credentials-out",
        default="credentials.json",
        help="where new passwords and every participant's inbox name are written (mode 600)",
    )
    p.add_argument("--rotate-passwords", action="store_true", help="give existing users new passwords too")
    p.add_argument(
        "--service-credentials",
        type=_user_and_path,
        action="append",
        default=[],
        metavar="USER=FILE",
        help="also write this one user's entry alone to FILE (mode 600), e.g. for the router's container",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help=f"RabbitMQ user limit per participant (default {DEFAULT_MAX_CONNECTIONS})",
    )
    p.add_argument(
        "--max-channels",
        type=int,
        default=DEFAULT_MAX_CHANNELS,
        help=f"RabbitMQ user limit per participant, all its connections (default {DEFAULT_MAX_CHANNELS})",
    )
    p.add_argument(
        "--public-keys",
        metavar="DIR",
        help="participants' public keys files (`keys generate`): sign them into the key directory",
    )
    p.add_argument(
        "--deployment-key", metavar="FILE", help="the deployment key (mode 600) that signs the directory"
    )
    p.add_argument(
        "--key-directory-out",
        default="key-directory.json",
        metavar="FILE",
        help="where the signed key directory is written (RB_KEY_DIRECTORY of the router and clients)",
    )
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser(
        "police-example", help="run the example police integration (answers referrals)", add_help=False
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_police_example)

    p = sub.add_parser(
        "publish", help="publish a message file as a participant, waiting for the broker's confirm"
    )
    p.add_argument("file", help="a JSON message (see schemas/examples/)")
    p.add_argument(
        "--as",
        dest="as_address",
        required=True,
        metavar="ADDRESS",
        help="the participant, e.g. bureau:330681",
    )
    p.add_argument(
        "--credentials",
        metavar="FILE",
        help="the participant's credentials file, mode 600 (default RB_CREDENTIALS; else RB_PASSWORD)",
    )
    # refused with a pointer to the above: a password in argv is visible in the process list
    p.add_argument("--password", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("dead-letter", help="operate on rb.dead-letter")
    dead = p.add_subparsers(dest="dead_letter_command", required=True, metavar="ACTION")
    p = dead.add_parser(
        "refeed",
        help="move inputs dead-lettered from the router's queue back to rb.inbound (and decision records "
        "back to rb.tracker.decisions), each confirmed before its dead letter is acked; run as the "
        "router's user (RB_AMQP_URL), which keeps each sender's user_id",
    )
    p.add_argument("--limit", type=int, help="re-feed at most this many (default: all there now)")
    p.set_defaults(func=cmd_dead_letter_refeed)
    from broker.cli.quarantine import add_actions

    add_actions(dead, "dead-letter")

    p = sub.add_parser("tail", help="follow the routing log (one JSON line per decision)")
    p.add_argument("--bureau", help="only decisions sent by or delivered to this division code or address")
    p.add_argument("--case", help="only this case id")
    p.add_argument("--kind", help="only this message kind")
    p.add_argument("--count", type=int, help="stop after this many lines")
    p.set_defaults(func=cmd_tail)

    _add_optional_commands(sub)

    p = sub.add_parser("refresh-divisions", help="regenerate the division-code data file", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_refresh_divisions)
    return parser


def _add_optional_commands(sub: Any) -> None:
    """Commands that live with their component (tracker, quarantine, demo, bench) register here."""
    from broker.cli import bench, console, contract, demo, keys, quarantine, route, tracker

    for commands in (route, contract, tracker, quarantine, demo, bench, keys, console):
        commands.add_commands(sub)


PASS_THROUGH = {
    "police-example": "broker.tools.police_example",
    "refresh-divisions": "broker.tools.registry_refresh",
}
"""Commands with their own argument parser: everything after the command's name is theirs."""


def main(argv: Sequence[str] | None = None) -> int:
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:1]
    rest = argv[1:] if debug else argv
    if rest and rest[0] in PASS_THROUGH:
        module = importlib.import_module(PASS_THROUGH[rest[0]])
        return _guarded(lambda settings: int(module.main(rest[1:])), debug)
    args = build_parser().parse_args(argv)
    return _guarded(lambda settings: int(args.func(args, settings)), debug)


def _guarded(run: Any, debug: bool) -> int:
    """Run a command; a mistake in the settings or arguments is told in a line or two, and the
    traceback only with --debug (or for an error that is not a known mistake, i.e. a bug)."""
    from broker.cli.errors import EXIT_SETTING, explain

    try:
        settings = Settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETTING
    try:
        return int(run(settings))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        text = explain(exc, settings)
        if text is None or debug:
            raise
        print(text, file=sys.stderr)
        return EXIT_SETTING


if __name__ == "__main__":
    sys.exit(main())
