"""`referral-broker bench --scale`: what a growing deployment costs the broker and the router.

On a RabbitMQ node the benchmark starts itself (broker/tools/nodes.py, open-file limit raised),
participants are added in steps (100, 1,000, 6,420: about a bureau and a police office for every
division; past that, the procuratorate and the seven other departments of every division, up to
the 32,110 of a full national deployment): each step provisions the new ones (users, permissions,
limits, a quorum inbox each) and measures how long that took, the broker's memory (management API,
/api/nodes mem_used), and the router's rate, CPU per message and peak RSS on the bench's message
mix, run with every participant of the step loaded. The node is deleted afterwards, with
everything on it.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from broker.domain.address import DEPARTMENTS, Party
from broker.domain.jurisdictions import default_registry
from broker.participants import Participants
from broker.tools.bench.procstat import rss_mb
from broker.tools.bench.run import (
    FLOWS,
    PARTICIPANTS,
    Deployment,
    _inbox_totals,
    _progress,
    _round,
    measure_router,
    purge,
)
from broker.tools.nodes import NodeError, RabbitNode, own_node
from broker.transport import topology
from broker.transport.management import ManagementError
from broker.transport.provision import provision
from broker.transport.reconnect import INFRASTRUCTURE_ERRORS

SIZES = (100, 1_000, 6_420)
"""6,420 is about a bureau and a police office per division (the division table has 3,211 codes
with the national level). A full national deployment adds the procuratorate and the seven other
departments (broker/domain/address.py `Party`) of every division: 32,110 participants in all, the
issue's "about 35,000" with the departments this contract knows; ask for it with --sizes."""
USER_PREFIX = "s."

_FIRST_PARTIES = (Party.BUREAU, Party.POLICE)
"""Provisioned first, so that the 6,420 step is a bureau and a police office per division."""


def participant_addresses(size: int) -> list[str]:
    """The bench mix's participants first, then a bureau and a police office per division, then the
    other departments of every division, each in code order (the national level first)."""
    registry = default_registry()
    codes = sorted({"000000", *registry.descendants_of("000000")})
    others = sorted(DEPARTMENTS - set(_FIRST_PARTIES))
    ordered = dict.fromkeys(
        [
            *PARTICIPANTS,
            *(f"{party}:{c}" for c in codes for party in _FIRST_PARTIES),
            *(f"{party}:{c}" for c in codes for party in others),
        ]
    )
    if size > len(ordered):
        raise ValueError(f"--sizes: {size} is more than the {len(ordered)} participants there are")
    return list(ordered)[:size]


def _mem_used(node: RabbitNode, timeout_s: float = 30.0) -> int:
    """Bytes the node uses by its own count (/api/nodes mem_used), once its statistics exist."""
    deadline = time.monotonic() + timeout_s
    while True:
        figures = node.api("/api/nodes")[0]
        if "mem_used" in figures:
            return int(figures["mem_used"])
        if time.monotonic() > deadline:
            raise NodeError(f"{node.name}: no memory figure from the management API in {timeout_s:.0f} s")
        time.sleep(0.5)


NODE_FAILURES: tuple[type[BaseException], ...] = (
    ManagementError,
    httpx.HTTPError,
    NodeError,
    *INFRASTRUCTURE_ERRORS,
)
"""What a step's provisioning or reading of the bench's own node can fail with (its HTTP API, its
AMQP port): the step then ends the curve."""


def run_scale(sizes: tuple[int, ...] = SIZES, messages: int = 5_000) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    with own_node("scale") as node, tempfile.TemporaryDirectory() as tmp:
        settings = replace(
            node.settings(),
            user_prefix=USER_PREFIX,
            inbox_secret=secrets.token_urlsafe(32),
            inbox_secret_file="",
        )
        passwords: dict[str, str] = {}
        done = 0
        for size in sorted(sizes):
            addresses = participant_addresses(size)
            _progress(f"scale: provisioning participants {done + 1}–{size} …")
            started = time.perf_counter()
            try:
                report = provision(settings, Participants.of(addresses[done:], USER_PREFIX))
                provision_s = time.perf_counter() - started
                overview = node.api("/api/overview")
                time.sleep(2)  # one statistics interval after the last declaration
                mem_used = _mem_used(node)
            except NODE_FAILURES as exc:
                # the bench's own node failed (its HTTP API, its AMQP port), not RB_MANAGEMENT_URL's
                # or RB_AMQP_URL's: said here, with the curve so far
                failure = _failure(exc)
                steps.append({"participants": size, "provision_error": failure})
                _progress(f"scale: provisioning {size} participants failed ({failure}); stopping")
                break
            passwords.update(report.created)
            dep = Deployment(settings, Participants.of(addresses, USER_PREFIX), passwords)
            _progress(f"scale: {size} participants provisioned in {provision_s:.0f} s; routing {messages} …")
            step: dict[str, Any] = {
                "participants": size,
                "provisioned_now": size - done,
                "provision_s": round(provision_s, 1),
                "provision_ms_per_participant": round(provision_s / (size - done) * 1000, 1),
                "queues": overview["object_totals"]["queues"],
                "broker_mem_used_mb": round(mem_used / 2**20, 1),
                "broker_rss_mb": _round(rss_mb(node.pid)),
            }
            steps.append(step)
            try:
                router = measure_router(dep, messages, Path(tmp))
            except (OSError, RuntimeError) as exc:  # a socket timeout is an OSError
                # what this step measured so far is kept; the curve ends here
                step["router_error"] = _failure(exc)
                _progress(f"scale: routing at {size} participants failed ({step['router_error']}); stopping")
                break
            inboxes = _inbox_totals([r for *_, r in FLOWS], settings.inbox_secret)
            purge(dep, [*sorted(inboxes), topology.TRACKER_QUEUE])
            step.update(
                router_msgs_per_s=round(router.msgs_per_s, 1),
                router_cpu_us_per_msg=None if router.cpu_us_per_msg is None else round(router.cpu_us_per_msg),
                router_peak_rss_mb=None if router.peak_rss_mb is None else round(router.peak_rss_mb, 1),
            )
            done = size
        open_files = node.open_file_limit()
    return {
        "scale": steps,
        "messages_per_step": messages,
        "broker_open_file_limit": open_files,
        "inboxes": "quorum",
    }


def _failure(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200]


STEP_ERRORS = ("provision_error", "router_error")
"""What a step that ended the curve early says went wrong."""


def render_scale(result: dict[str, Any]) -> str:
    header = (
        f"{'participants':>12} {'queues':>7} {'provision s':>11} {'ms/particip.':>12} {'broker MB':>9} "
        f"{'broker RSS MB':>13} "
        f"{'router msg/s':>12} {'µs CPU/msg':>10} {'router RSS MB':>13}"
    )
    rows = [_row(s) for s in result["scale"]]
    return "\n".join(
        [
            f"own RabbitMQ node, open-file limit {result['broker_open_file_limit']}, quorum inboxes; "
            f"{result['messages_per_step']} messages routed per step",
            header,
            *rows,
        ]
    )


def _row(s: dict[str, Any]) -> str:
    if "provision_error" in s:
        return (
            f"{s['participants']:>12,}  provisioning on the bench's own node failed: {s['provision_error']}"
        )
    measured = (
        f"{s['participants']:>12,} {s['queues']:>7,} {s['provision_s']:>11} "
        f"{s['provision_ms_per_participant']:>12} {s['broker_mem_used_mb']:>9} {s['broker_rss_mb']!s:>13} "
    )
    if "router_error" in s:
        return measured + f"  routing failed: {s['router_error']}"
    return (
        measured
        + f"{s['router_msgs_per_s']:>12,.0f} {s['router_cpu_us_per_msg']:>10} {s['router_peak_rss_mb']:>13}"
    )
