"""CLI for the benchmark: `referral-broker bench`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from broker.settings import Settings


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from broker.bench.run import render, run

    result = run(settings, messages=args.messages, rate=args.rate, seconds=args.seconds)
    print(render(result))
    if args.json:
        print(json.dumps(result))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure router throughput against a raw forwarder, latency and memory",
        description="Measure, against the broker in RB_AMQP_URL (admin user; a scratch vhost is made and "
        "removed): a raw forwarder's rate (the practical limit), the router's rate on the same messages "
        "with all checks on, end-to-end latency at a fixed offered rate, and peak memory.",
    )
    p.add_argument("--messages", type=int, default=20_000, help="messages per throughput run (default 20000)")
    p.add_argument(
        "--rate", type=float, default=500.0, help="offered rate for the latency run, msg/s (default 500)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="length of the latency run (default 20)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    p.set_defaults(func=cmd_bench)
