"""CLI for the benchmark: `referral-broker bench`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from broker.cli.arguments import non_negative_int
from broker.settings import Settings


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "must be participant counts separated by commas, e.g. 100,1000"
        ) from None
    if not sizes or any(n < 10 for n in sizes):
        raise argparse.ArgumentTypeError("each participant count must be at least 10")
    return sizes


def _router_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("must be router counts separated by commas, e.g. 1,2,4") from None
    if not counts or any(not 1 <= n <= 16 for n in counts):
        raise argparse.ArgumentTypeError("each router count must be between 1 and 16")
    return counts


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.memory_rows and not args.parts:
        print(
            "error: --memory-rows fills the memory part's database, a part of --parts\n"
            "fix: add --parts, or leave --memory-rows out",
            file=sys.stderr,
        )
        return 2
    if args.profile:
        from broker.tools.bench.profile import render_profile, run_profile

        result = run_profile(settings, messages=args.messages, top=args.top, stats_out=args.profile_stats)
        print(render_profile(result))
    elif args.flood:
        from broker.tools.bench.flood import render_flood, run_flood

        result = run_flood(settings, args.flood, args.honest, args.body_bytes, args.quarantine_share)
        print(render_flood(result))
    elif args.cluster:
        from broker.tools.bench.cluster import ClusterBenchError, render_cluster, run_cluster

        try:
            result = run_cluster(args.routers, messages=args.cluster_messages)
        except ClusterBenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(render_cluster(result))
    elif args.parts:
        from broker.tools.bench.parts import render_parts, run_parts

        result = run_parts(settings, messages=args.messages, memory_rows=args.memory_rows)
        print(render_parts(result))
    elif args.scale:
        from broker.tools.bench.scale import STEP_ERRORS, render_scale, run_scale

        result = run_scale(args.sizes, messages=args.scale_messages)
        print(render_scale(result))
        if any(error in step for step in result["scale"] for error in STEP_ERRORS):
            if args.json:
                print(json.dumps(result))
            return 1  # the curve ends early: what was measured is printed, and the run failed
    else:
        from broker.tools.bench.run import render, run

        result = run(
            settings,
            messages=args.messages,
            rate=args.rate,
            seconds=args.seconds,
            sealed=not args.plaintext_bodies,
        )
        print(render(result))
    if args.json:
        print(json.dumps(result))
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="router throughput and CPU against the limit, latency, memory; --scale: the participant curve",
        description="Measure, against the broker in RB_AMQP_URL (admin user; a scratch vhost is made and "
        "removed): a bare py-amqp forwarder's rate and CPU per message (the limit, with the router's "
        "guarantees), the kombu forwarder's, the router's on the same messages with all checks on, "
        "end-to-end latency of the router and of the bare forwarder at the same offered rate, and peak "
        "memory. With --scale: on a RabbitMQ node of its own (RB_AMQP_URL is not used), provisioning "
        "time, broker memory and the router's rate and memory at growing participant counts.",
    )
    p.add_argument("--messages", type=int, default=10_000, help="messages per throughput run (default 10000)")
    p.add_argument(
        "--rate", type=float, default=500.0, help="offered rate for the latency runs, msg/s (default 500)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="length of each latency run (default 20)")
    p.add_argument("--scale", action="store_true", help="measure the participant curve on a node of its own")
    p.add_argument(
        "--parts",
        action="store_true",
        help="instead: the CPU per message of each part of the router's work (contract, decision, record, "
        "log line, memory, publish, read), each alone on --messages messages of the mix",
    )
    p.add_argument(
        "--memory-rows",
        type=non_negative_int,
        default=0,
        help="with --parts: messages the router's memory already remembers when its part is timed "
        "(default 0, a new database; a router keeps 400 days of them)",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="routers sharded by case on a three-node cluster of its own, sharing a PostgreSQL memory "
        "(RB_TEST_POSTGRES_URL)",
    )
    p.add_argument(
        "--routers",
        type=_router_counts,
        default=(1, 2, 4),
        help="with --cluster: router counts (default 1,2,4)",
    )
    p.add_argument(
        "--cluster-messages", type=int, default=6_000, help="with --cluster: messages per step (default 6000)"
    )
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=(100, 1_000, 6_420),
        help="with --scale: participant counts, comma-separated, at most 32110: a bureau and a police "
        "office per division first, then its procuratorate and seven other departments "
        "(default 100,1000,6420)",
    )
    p.add_argument(
        "--scale-messages",
        type=int,
        default=5_000,
        help="with --scale: messages routed per step (default 5000)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the router under cProfile on --messages queued messages and print where its CPU goes",
    )
    p.add_argument("--top", type=int, default=30, help="with --profile: functions listed (default 30)")
    p.add_argument(
        "--profile-stats",
        type=Path,
        help="with --profile: also keep cProfile's statistics in this file (pstats)",
    )
    p.add_argument(
        "--flood",
        type=int,
        default=0,
        metavar="N",
        help="instead: one sender's N bad messages, then others' valid ones, routed with the quarantine "
        'share and without (README "Quarantine shares")',
    )
    p.add_argument("--honest", type=int, default=500, help="with --flood: valid messages (default 500)")
    p.add_argument("--body-bytes", type=int, default=2048, help="with --flood: size of each bad message")
    p.add_argument(
        "--quarantine-share", type=int, default=1000, help="with --flood: the share of the second run"
    )
    p.add_argument(
        "--plaintext-bodies",
        action="store_true",
        help="bodies in clear and the router in its transitional mode (by default every body is sealed "
        "for its recipients, and the router is run a second time on the same messages in clear to say "
        "what its sealing check costs)",
    )
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    p.set_defaults(func=cmd_bench)
