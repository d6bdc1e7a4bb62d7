"""`referral-broker bench --profile`: where the router's CPU goes, function by function.

The router runs as `bench` runs it (a subprocess, SQLite memory, all checks on) but under cProfile
timed by its own CPU clock (broker/tools/bench/profiled.py), drains N queued messages of the bench's
mix, and is stopped with SIGTERM, on which it returns and the statistics are written. Printed: the
functions with the most CPU time of their own (tottime), and broad shares of the total by library.
cProfile adds a cost to every Python call, so read the shares, not the absolute times.
"""

from __future__ import annotations

import pstats
import sys
import tempfile
from pathlib import Path
from typing import Any

from broker.participants import Participants
from broker.settings import Settings
from broker.tools.bench.run import (
    PARTICIPANTS,
    Deployment,
    _drain_rate,
    _inbox_totals,
    mix_message,
    publish_as_participants,
    router_process,
)
from broker.transport import topology
from broker.transport.management import scratch_vhost
from broker.transport.provision import provision

SHARES: dict[str, tuple[str, ...]] = {
    "py-amqp and kombu (frames, channel, socket)": ("/amqp/", "/kombu/", "/vine/"),
    "pydantic (validation, dumps)": ("/pydantic/", "/pydantic_core/"),
    "SQLAlchemy and sqlite3": ("/sqlalchemy/", "sqlite3"),
    "structlog and logging": ("/structlog/", "broker/logs.py", "/logging/"),
    "json (stdlib)": ("/json/",),
    "the router (broker/router)": ("broker/router/",),
    "the domain (broker/domain)": ("broker/domain/",),
    "the transport (broker/transport)": ("broker/transport/",),
    "prometheus_client": ("/prometheus_client/",),
}
"""Broad shares of the total own time, by where a function is defined."""


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    for marker in ("site-packages/", "/lib/python3", "/work/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})" if line else name


def summarise(stats_file: Path, messages: int, top: int) -> dict[str, Any]:
    stats = pstats.Stats(str(stats_file))
    rows: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in rows.values()) or 1.0
    by_own = sorted(rows.items(), key=lambda item: item[1][2], reverse=True)[:top]
    shares: dict[str, float] = {}
    for (filename, _line, name), row in rows.items():
        where = filename if filename != "~" else name
        for share, markers in SHARES.items():
            if any(m in where for m in markers):
                shares[share] = shares.get(share, 0.0) + row[2]
                break
    return {
        "messages": messages,
        "profiled_s": round(total, 2),
        "profiled_us_per_msg": round(total / messages * 1e6, 1),
        "steps_cum_us_per_msg": _steps(rows, messages),
        "shares_pct": {
            k: round(v / total * 100, 1) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])
        },
        "top": [
            {
                "function": _where(key),
                "calls": row[1],
                "own_pct": round(row[2] / total * 100, 1),
                "own_us_per_msg": round(row[2] / messages * 1e6, 1),
                "cum_us_per_msg": round(row[3] / messages * 1e6, 1),
            }
            for key, row in by_own
        ],
    }


STEPS: dict[str, tuple[str, str]] = {
    "whole batch (pipeline)": ("broker/router/pipeline.py", "handle_batch"),
    "check: contract, authentication": ("broker/router/pipeline.py", "check"),
    "deduplicate, decide": ("broker/router/pipeline.py", "_assess_guarded"),
    "memory: read (seen)": ("broker/store/memory.py", "seen"),
    "memory: record decisions (begin)": ("broker/store/memory.py", "begin"),
    "memory: book confirms": ("broker/store/memory.py", "confirmed"),
    "outputs of routed input": ("broker/router/outputs.py", "route_outputs"),
    "publish (py-amqp)": ("broker/transport/confirms.py", "publish"),
    "wait for confirms": ("broker/transport/confirms.py", "wait"),
    "count and log": ("broker/router/counting.py", "count_and_log"),
    "reading frames (drain_events)": ("amqp/connection.py", "drain_events"),
    "wrapping deliveries": ("broker/transport/inbound.py", "of"),
}
"""Cumulative time of the pipeline's steps (a step's time includes what it calls, so they overlap:
the confirms are read inside `wait`, and deliveries arrive inside it too)."""


def _steps(rows: dict[Any, Any], messages: int) -> dict[str, float]:
    steps: dict[str, float] = {}
    for (filename, _line, name), row in rows.items():
        for step, (path, function) in STEPS.items():
            if name == function and filename.endswith(path):
                steps[step] = steps.get(step, 0.0) + row[3] / messages * 1e6
    return {step: round(steps[step], 1) for step in STEPS if step in steps}


def run_profile(
    settings: Settings, messages: int, top: int = 30, stats_out: Path | None = None
) -> dict[str, Any]:
    with scratch_vhost(settings, "profile") as scratch, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        participants = Participants.of(PARTICIPANTS, scratch.user_prefix)
        report = provision(scratch, participants)
        dep = Deployment(scratch, participants, dict(report.created))
        made = [mix_message(n) for n in range(messages)]
        print(f"profile: queueing {messages} messages …", file=sys.stderr, flush=True)
        publish_as_participants(dep, [m for m, _ in made])
        totals = _inbox_totals([r for _, r in made], dep.settings.inbox_secret)
        totals[topology.TRACKER_QUEUE] = messages
        (workdir / "participants.txt").write_text(participants.dump())
        stats_file = workdir / "router.prof"
        process = router_process(
            dep.router_url,
            participants.user_prefix,
            workdir / "participants.txt",
            workdir / "router.sqlite3",
            profile_to=stats_file,
        )
        print("profile: the router under cProfile, draining …", file=sys.stderr, flush=True)
        drain = _drain_rate(dep.settings.amqp_url, process, topology.ROUTER_QUEUE, totals, messages)
        result = summarise(stats_file, messages, top)
        if stats_out is not None:
            stats_out.write_bytes(stats_file.read_bytes())
    result["msgs_per_s_under_profiler"] = round(drain.msgs_per_s, 1)
    result["cpu_us_per_msg_under_profiler"] = (
        None if drain.cpu_us_per_msg is None else round(drain.cpu_us_per_msg, 1)
    )
    return result


def render_profile(result: dict[str, Any]) -> str:
    lines = [
        f"router under cProfile: {result['messages']:,} messages, "
        f"{result['msgs_per_s_under_profiler']:,.0f} msg/s, "
        f"{result['cpu_us_per_msg_under_profiler']} µs CPU/msg (profiler overhead included)",
        f"profiled own time {result['profiled_s']} s, "
        f"{result['profiled_us_per_msg']} µs per message; shares:",
    ]
    lines += [f"  {pct:5.1f} %  {share}" for share, pct in result["shares_pct"].items()]
    lines.append("steps (cumulative µs per message, overlapping):")
    lines += [f"  {us:8.1f}  {step}" for step, us in result["steps_cum_us_per_msg"].items()]
    lines.append(f"  {'own %':>6} {'own µs/msg':>10} {'cum µs/msg':>10} {'calls':>9}  function")
    lines += [
        f"  {t['own_pct']:6.1f} {t['own_us_per_msg']:10.1f} {t['cum_us_per_msg']:10.1f} "
        f"{t['calls']:>9}  {t['function']}"
        for t in result["top"]
    ]
    return "\n".join(lines)
