"""A police integration to start from: consume the referral queue, answer receipt and decision.

    RB_CREDENTIALS=police.json referral-broker police-example --as police:330681 [--decision filed|not_filed]

The office's password and inbox name come from its credentials file (mode 600, as provision wrote
it: --credentials FILE or RB_CREDENTIALS), or from RB_PASSWORD and RB_INBOX; never from argv.

For each police referral in the office's queue it sends a `police_receipt` at once and then a
`filing_decision` (立案 / 不予立案 with reasons), acking the referral only after both answers
were confirmed by the broker. A referral the broker joined to an earlier one (header
x-rule police.referral_linked) gets a receipt only: the decision on the earlier one covers it.
A real integration replaces `decide` with its case system; everything else stays.
Only ids, kinds and threshold levels are printed, never the referral's body.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from broker.domain.messages import Kind, Message, PoliceReferral
from broker.transport.client import Delivered, ParticipantClient

log = structlog.get_logger("referral_broker.police_example")

Decide = Callable[[PoliceReferral], tuple[str, str]]
"""Returns (decision, reasons): ("filed", "") or ("not_filed", "why")."""


def file_everything(_: PoliceReferral) -> tuple[str, str]:
    return "filed", ""


def decline_everything(_: PoliceReferral) -> tuple[str, str]:
    return "not_filed", "The evidence provided does not yet establish the offence; please supplement it."


def answer(client: ParticipantClient, message: Message, meta: Delivered, decide: Decide) -> None:
    """Answer one message from the referral queue; raising makes the client requeue it."""
    if not isinstance(message, PoliceReferral):
        log.info(
            "not a referral, acknowledged",
            kind=message.envelope.kind.value,
            message_id=str(message.envelope.message_id),
        )
        return
    client.reply(message, Kind.POLICE_RECEIPT, {"received_at": datetime.now(UTC).isoformat()})
    if meta.rule == "police.referral_linked":
        log.info("linked referral received", message_id=str(message.envelope.message_id))
        return
    decision, reasons = decide(message)
    client.reply(message, Kind.FILING_DECISION, {"decision": decision, "reasons": reasons})
    log.info(
        "referral answered",
        message_id=str(message.envelope.message_id),
        case_id=message.envelope.case_id,
        level=message.body.level,
        decision=decision,
    )


def serve(
    client: ParticipantClient,
    decide: Decide = file_everything,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
) -> int:
    """Consume the office's referral queue (its inbox) with manual acks; returns how many were handled."""
    return client.consume(
        lambda message, meta: answer(client, message, meta, decide),
        max_messages=max_messages,
        idle_timeout_s=idle_timeout_s,
    )


def main(argv: list[str] | None = None) -> int:
    from broker import credentials, logs
    from broker.domain.address import Address
    from broker.settings import Settings

    parser = argparse.ArgumentParser(
        prog="referral-broker police-example", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--as", dest="address", required=True, help="the police office, e.g. police:330681")
    parser.add_argument(
        "--credentials", metavar="FILE", help="the office's credentials file, mode 600 (or RB_CREDENTIALS)"
    )
    parser.add_argument("--password", help=argparse.SUPPRESS)  # refused: argv is in the process list
    parser.add_argument("--decision", choices=["filed", "not_filed"], default="filed")
    parser.add_argument("--idle-timeout", type=float, help="stop after this many seconds without a message")
    args = parser.parse_args(argv)
    if args.password is not None:
        print(f"error: {credentials.PASSWORD_FLAG_REFUSED}", file=sys.stderr)
        return 2
    logs.configure()
    settings = Settings()
    address = Address.parse(args.address)
    user = f"{settings.user_prefix}{address.username}"
    try:
        mine = credentials.for_user(user, args.credentials)
    except credentials.CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not mine.inbox:
        print("error: no inbox name: give the credentials file provision wrote, or RB_INBOX", file=sys.stderr)
        return 2
    url = settings.amqp_url_for(user, mine.password)
    decide = file_everything if args.decision == "filed" else decline_everything
    from broker.sealing import Sealing, SealingError

    try:
        sealing = Sealing.of_participant(settings.sealing)  # sealed referrals open, answers go sealed
    except SealingError as exc:
        print(f"error: RB_KEYRING / RB_KEY_DIRECTORY / RB_DEPLOYMENT_PUBLIC_KEY: {exc}", file=sys.stderr)
        return 2
    with ParticipantClient(url, address, inbox=mine.inbox, sealing=sealing) as client:
        handled = serve(client, decide, idle_timeout_s=args.idle_timeout)
    print(f"answered {handled} messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
