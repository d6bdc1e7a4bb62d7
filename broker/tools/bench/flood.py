"""`referral-broker bench --flood`: what one participant flooding the router with bad input costs the
quarantine, the tracker's queue and everyone else, with each sender's quarantine share and without.

In a scratch vhost of the broker in RB_AMQP_URL (removed afterwards), twice: a flooder's N invalid
messages (bodies of `body_bytes`) are queued on rb.inbound, then honest participants' valid
messages behind them; the router (a subprocess, as `route` runs) drains everything. Printed for
each run: the router's rate, the quarantine's depth in messages and bytes, the decision records
queued for the tracker, the refusal notices in the flooder's inbox, and how long until the last
honest copy was in place. The first run keeps everything (a share as large as the flood), the
second the share given (`--quarantine-share`, README "Quarantine shares").
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pika

from broker.domain.address import Address
from broker.participants import Participants
from broker.settings import Settings
from broker.tools.bench.run import (
    FLOWS,
    PARTICIPANTS,
    Deployment,
    _depth,
    _inbox_totals,
    _progress,
    _wait,
    mix_message,
    publish_as_participants,
    purge,
    router_process,
)
from broker.transport import topology
from broker.transport.management import Management, scratch_vhost
from broker.transport.provision import provision

FLOODER = "bureau:330681"
"""The participant gone wrong: it sends only messages the contract refuses."""
STATS_SETTLE_S = 6.0
"""The management API's queue byte counts lag by its statistics interval (5 s by default)."""


def _flood(dep: Deployment, count: int, body_bytes: int) -> None:
    """Queue `count` bodies that are not JSON as the flooder, with its validated user_id."""
    user = dep.participants.username(Address.parse(FLOODER))
    connection = pika.BlockingConnection(pika.URLParameters(dep.url_for(FLOODER)))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(user_id=user, delivery_mode=2)
        for n in range(count):
            body = f"garbage {n} ".encode().ljust(body_bytes, b"x")
            channel.basic_publish(topology.INBOUND_EXCHANGE, "", body, properties)
    finally:
        connection.close()


def _one_run(
    dep: Deployment, workdir: Path, flood: int, honest: int, body_bytes: int, share: int
) -> dict[str, Any]:
    mix = (mix_message(n) for n in range(honest * len(FLOWS)))
    made = [m for m in mix if m[0].envelope.sender != FLOODER][:honest]
    _flood(dep, flood, body_bytes)
    publish_as_participants(dep, [m for m, _ in made])
    targets = _inbox_totals([r for _, r in made], dep.settings.inbox_secret)
    vhost = dep.settings.vhost
    process = router_process(
        dep.router_url,
        dep.participants.user_prefix,
        _participants_file(dep, workdir),
        workdir / f"router-{share}.sqlite3",
        extra=["--quarantine-share", str(share)],
    )
    started = time.perf_counter()
    honest_done: float | None = None
    flooder_inbox = topology.inbox_name(Address.parse(FLOODER), dep.settings.inbox_secret)
    connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
    try:
        channel = connection.channel()

        def depth(queue: str) -> int:
            return _depth(channel, queue)[0]

        if _wait(lambda: all(depth(q) >= n for q, n in targets.items()), 600, 0.1):
            honest_done = time.perf_counter() - started
        _wait(lambda: depth(topology.ROUTER_QUEUE) == 0, 600, 0.1)
        drained_s = _settled(lambda: depth(topology.TRACKER_QUEUE) + depth(flooder_inbox)) - started
        quarantine = _queue_stats(dep.settings, vhost, topology.QUARANTINE, depth(topology.QUARANTINE))
        result = {
            "quarantine_share": share,
            "router_msgs_per_s": round((flood + honest) / drained_s, 1),
            "quarantine_messages": depth(topology.QUARANTINE),
            "quarantine_mb": round(int(quarantine.get("message_bytes", 0)) / 1e6, 2),
            "tracker_records": depth(topology.TRACKER_QUEUE),
            "flooder_notices": depth(flooder_inbox),
            "honest_routed_after_s": round(honest_done, 1) if honest_done is not None else None,
            "drained_after_s": round(drained_s, 1),
        }
    finally:
        connection.close()
        process.terminate()
        process.wait(timeout=30)
    purge(dep, [topology.QUARANTINE, topology.TRACKER_QUEUE, *targets, flooder_inbox])
    return result


def _queue_stats(settings: Any, vhost: str, queue: str, messages: int) -> dict[str, Any]:
    """The management API's figures of a queue once they count `messages` and have held still for
    a statistics interval (5 s by default, more on a busy machine), or the last ones after
    STATS_SETTLE_S × 10. The count and the bytes come from separate statistics that may arrive a
    tick apart, so a count that is already right can sit beside the bytes of a queue's earlier
    contents (the second run's quarantine showed the first run's 0.3 MB); only figures that agree
    across a whole interval are both current."""
    deadline = time.monotonic() + STATS_SETTLE_S * 10
    earlier: tuple[Any, Any] | None = None
    while True:
        with Management(settings) as api:
            found: dict[str, Any] = api.queue(vhost, queue) or {}
        figures = (found.get("messages"), found.get("message_bytes"))
        if (figures[0] == messages and figures == earlier) or time.monotonic() > deadline:
            return found
        earlier = figures if figures[0] == messages else None
        time.sleep(STATS_SETTLE_S if earlier is not None else 0.5)


def _settled(count: Any) -> float:
    """When `count()` last changed, once it held still for a second (the router's last batch, which
    the input queue no longer shows, is then done)."""
    last, changed = count(), time.perf_counter()
    while time.perf_counter() - changed < 1.0:
        time.sleep(0.1)
        now = count()
        if now != last:
            last, changed = now, time.perf_counter()
    return changed


def _participants_file(dep: Deployment, workdir: Path) -> Path:
    path = workdir / "participants.txt"
    path.write_text(dep.participants.dump())
    return path


def run_flood(settings: Settings, flood: int, honest: int, body_bytes: int, share: int) -> dict[str, Any]:
    with scratch_vhost(settings, "flood") as scratch, tempfile.TemporaryDirectory() as tmp:
        participants = Participants.of(PARTICIPANTS, scratch.user_prefix)
        dep = Deployment(scratch, participants, dict(provision(scratch, participants).created))
        runs = []
        for kept in (flood, share):
            _progress(f"flood: {flood} bad messages, then {honest} valid ones; quarantine share {kept} …")
            runs.append(_one_run(dep, Path(tmp), flood, honest, body_bytes, kept))
    return {"flood": flood, "honest": honest, "body_bytes": body_bytes, "runs": runs}


def render_flood(result: dict[str, Any]) -> str:
    head = (
        f"one sender's {result['flood']:,} bad messages of {result['body_bytes']:,} bytes, "
        f"then {result['honest']:,} valid ones of the others"
    )
    columns = [
        ("quarantine share", "quarantine_share"),
        ("router msg/s", "router_msgs_per_s"),
        ("quarantine msgs", "quarantine_messages"),
        ("quarantine MB", "quarantine_mb"),
        ("tracker records", "tracker_records"),
        ("flooder notices", "flooder_notices"),
        ("honest routed after s", "honest_routed_after_s"),
    ]
    lines = [head, " | ".join(title for title, _ in columns)]
    for run in result["runs"]:
        lines.append(" | ".join(str(run[key]) for _, key in columns))
    return "\n".join(lines)
