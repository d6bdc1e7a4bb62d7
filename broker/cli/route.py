"""`referral-broker route`: the router worker (broker/router/service.py) until SIGTERM."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from broker.cli.arguments import participants, positive_int, rate
from broker.settings import Settings, SettingsError, shard_count


def cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    from broker import logs, metrics
    from broker.router.rates import SenderRates
    from broker.router.service import Router
    from broker.router.shares import ShareLimits
    from broker.store.memory import SqlRoutingMemory
    from broker.transport.reconnect import is_authentication_error

    logs.configure(args.log_level)
    shard = _shard(args, settings)
    bodies = _bodies(settings)
    router = Router(
        settings.amqp_url,
        participants(args, settings),
        SqlRoutingMemory(settings.database_url),
        prefetch=args.prefetch,
        quarantine_share=ShareLimits.per_hour(args.quarantine_share),
        sender_rates=SenderRates(args.sender_rate, args.sender_burst),
        shard=shard,
        bodies=bodies,
    )
    router.install_signal_handlers()
    # What is loaded by now (the division registry, the participants, the models' validators) lives
    # as long as the process: out of the collector's way, a full collection walks only what routing
    # allocates since, which shortens its pauses (the latency tail).
    gc.collect()
    gc.freeze()
    metrics.serve(args.metrics_port, metrics.ROUTER, args.metrics_host)
    try:
        router.run()
    except Exception as exc:
        if not is_authentication_error(exc):
            raise
        print(
            f"error: the broker refused the router's login or vhost ({exc}); route stopped, since retrying "
            "would not help\nfix: check the router's user, password and vhost in RB_AMQP_URL",
            file=sys.stderr,
        )
        return 2
    return 0


def _bodies(settings: Settings) -> Any:
    """The bodies the router takes (RB_BODIES) and the key directory it checks sealed ones against."""
    from broker.router.bodies import Bodies
    from broker.sealing.errors import SealingError

    sealing = settings.sealing
    sealing.check_router()
    try:
        return Bodies.load(
            sealing.plaintext, sealing.suite, sealing.key_directory, sealing.deployment_public_key
        )
    except SealingError as exc:
        raise SettingsError(f"RB_KEY_DIRECTORY / RB_DEPLOYMENT_PUBLIC_KEY: {exc}") from None


def _shard(args: argparse.Namespace, settings: Settings) -> Any:
    """The shard this router consumes: --shard K of --shards N (default RB_ROUTER_SHARDS)."""
    from broker.transport.topology import Shard

    count = settings.router_shards if args.shards is None else shard_count(args.shards, "--shards")
    if args.shard is None:
        if count > 1:
            raise SettingsError(
                f"route: the input is split into {count} shards; --shard K (0 to {count - 1}) says which "
                "one this router consumes"
            )
        return Shard()
    if not 0 <= args.shard < count:
        raise SettingsError(f"route: --shard {args.shard}, but there are {count} shards (0 to {count - 1})")
    return Shard(args.shard, count)


def add_commands(sub: Any) -> None:
    p = sub.add_parser("route", help="run the router worker until SIGTERM")
    p.add_argument("--participants", help="participants file (default RB_PARTICIPANTS)")
    p.add_argument(
        "--prefetch",
        type=int,
        default=256,
        help="unacked messages held at once, and the largest batch (default 256)",
    )
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--shards",
        default=None,
        metavar="N",
        help="the input's shards by case (default RB_ROUTER_SHARDS, else 1); `provision` declares them",
    )
    p.add_argument(
        "--shard",
        type=int,
        default=None,
        metavar="K",
        help="which shard this router consumes, 0 to N-1 (needed with N > 1); a second router of the "
        "same shard waits as a standby (single active consumer) and takes over when the first stops",
    )
    p.add_argument(
        "--quarantine-share",
        type=positive_int,
        default=5000,
        metavar="N",
        help="refused inputs per sender and hour kept whole in the quarantine (default 5000); up to "
        "9×N more keep their entry without the body (10×N entries in all); past that they are "
        "counted, not kept (except refusals for rate, which keep their entry); per router process",
    )
    p.add_argument(
        "--sender-rate",
        type=rate,
        default=500.0,
        metavar="R",
        help="messages a second each sender may keep up (default 500; 0: no limit); faster input is "
        "refused (stage rate) and its sender told to publish it again",
    )
    p.add_argument(
        "--sender-burst",
        type=positive_int,
        default=50_000,
        metavar="B",
        help="messages each sender may send at once above its rate (default 50000)",
    )
    p.add_argument(
        "--metrics-port", type=int, default=0, help="serve Prometheus metrics on this port (0: off)"
    )
    p.add_argument(
        "--metrics-host",
        default=None,
        help="address the metrics port binds to (default RB_METRICS_HOST, else 127.0.0.1)",
    )
    p.set_defaults(func=cmd_route)
