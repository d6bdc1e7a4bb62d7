"""`referral-broker bench --cluster`: routers sharded by case on a three-node cluster, 1, 2 and 4 of
them, each a `route --shards N --shard K` process, all sharing one PostgreSQL memory.

The benchmark starts its own three nodes (broker/tools/nodes.py, with the consistent-hash exchange
plugin) and, for each router count N, a scratch vhost provisioned with N shards. The same message
mix as `bench` (one case per message, so the cases spread over the shards) is queued first, then
the N routers start, each connected to another node first, and the rate is the messages over the
time from the last router's consumer appearing until every output is in place; the CPU per message
is the routers' own utime + stime over that time, summed. The nodes and the database schema are
deleted afterwards.

What the figures say depends on the machine: three broker nodes and N routers share its cores.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pika

from broker.participants import Participants
from broker.settings import Settings
from broker.store.scratch import postgres_reachable, temporary_database
from broker.tools.bench.procstat import cpu_seconds, peak_rss_mb
from broker.tools.bench.run import (
    PARTICIPANTS,
    Deployment,
    _depth,
    _inbox_totals,
    _progress,
    _wait,
    mix_message,
    publish_as_participants,
    router_process,
)
from broker.tools.nodes import RabbitCluster, own_cluster
from broker.transport import topology
from broker.transport.management import scratch_vhost
from broker.transport.provision import ROUTER_USER, provision

ROUTER_COUNTS = (1, 2, 4)
PLUGIN = "rabbitmq_consistent_hash_exchange"


class ClusterBenchError(RuntimeError):
    """The cluster benchmark cannot run here (no PostgreSQL, no rabbitmq-server)."""


def _step(
    cluster: RabbitCluster, memory_url: str, routers: int, messages: int, workdir: Path
) -> dict[str, Any]:
    with scratch_vhost(cluster.settings(), f"cluster{routers}") as scratch:
        settings: Settings = replace(scratch, router_shards=routers)
        participants = Participants.of(PARTICIPANTS, settings.user_prefix)
        passwords = dict(provision(settings, participants).created)
        dep = Deployment(settings, participants, passwords)
        made = [mix_message(n) for n in range(messages)]
        _progress(f"cluster: {routers} router(s): queueing {messages} messages over {routers} shard(s) …")
        publish_as_participants(dep, [m for m, _ in made])
        shards = topology.shards(routers)
        totals = _inbox_totals([r for _, r in made], settings.inbox_secret)
        totals[topology.TRACKER_QUEUE] = messages
        participants_file = workdir / f"participants-{routers}.txt"
        participants_file.write_text(participants.dump())
        user = f"{participants.user_prefix}{ROUTER_USER}"
        processes = [
            router_process(
                cluster.failover_url(user, passwords[user], settings.vhost, first=k % len(cluster.nodes)),
                participants.user_prefix,
                participants_file,
                workdir / "unused.sqlite3",
                extra=[] if routers == 1 else ["--shards", str(routers), "--shard", str(k)],
                database_url=memory_url,
            )
            for k in range(routers)
        ]
        connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
        channel = connection.channel()
        try:
            if not _wait(lambda: all(_depth(channel, s.queue)[1] >= 1 for s in shards), 120):
                raise ClusterBenchError("a shard got no router within 120 s")
            started = time.perf_counter()
            before = [cpu_seconds(p.pid) for p in processes]
            if not _wait(lambda: all(_depth(channel, q)[0] >= n for q, n in totals.items()), 600, 0.05):
                raise ClusterBenchError("the outputs did not arrive within 10 minutes")
            elapsed = time.perf_counter() - started
            after = [cpu_seconds(p.pid) for p in processes]
            rss = [peak_rss_mb(p.pid) for p in processes]
        finally:
            connection.close()
            for p in processes:
                p.terminate()
            for p in processes:
                p.wait(timeout=30)
    spent = [a - b for a, b in zip(after, before, strict=True) if a is not None and b is not None]
    cpu = sum(spent) if len(spent) == routers else None
    return {
        "routers": routers,
        "msgs_per_s": round(messages / elapsed, 1),
        "cpu_us_per_msg": None if cpu is None else round(cpu / messages * 1e6, 1),
        "router_peak_rss_mb": max((round(r, 1) for r in rss if r is not None), default=None),
    }


def run_cluster(counts: tuple[int, ...] = ROUTER_COUNTS, messages: int = 6_000) -> dict[str, Any]:
    if not postgres_reachable():
        raise ClusterBenchError("the routers share a PostgreSQL memory: none answers at RB_TEST_POSTGRES_URL")
    began = time.perf_counter()
    steps = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        temporary_database("postgres", Path(tmp)) as memory_url,
        own_cluster(3, "bench-cluster", (PLUGIN,)) as cluster,
    ):
        _progress(f"cluster: three nodes of our own running ({', '.join(n.name for n in cluster.nodes)})")
        for routers in counts:
            steps.append(_step(cluster, memory_url, routers, messages, Path(tmp)))
            _progress(f"cluster: {routers} router(s): {steps[-1]['msgs_per_s']:,.0f} msg/s")
    base = steps[0]["msgs_per_s"]
    for step in steps:
        step["scaling"] = round(step["msgs_per_s"] / base, 2)
    return {
        "cluster": steps,
        "nodes": 3,
        "messages_per_step": messages,
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "elapsed_s": round(time.perf_counter() - began, 1),
    }


def render_cluster(result: dict[str, Any]) -> str:
    rows = [
        f"{s['routers']:>8} {s['msgs_per_s']:>12,.0f} {s['scaling']:>8} {s['cpu_us_per_msg']:>12} "
        f"{s['router_peak_rss_mb']:>14}"
        for s in result["cluster"]
    ]
    return "\n".join(
        [
            f"three-node cluster of our own, routers sharded by case, one PostgreSQL memory; "
            f"{result['messages_per_step']:,} messages per step, {result['cores']} cores",
            f"{'routers':>8} {'msg/s':>12} {'scaling':>8} {'µs CPU/msg':>12} {'router RSS MB':>14}",
            *rows,
            f"load average (1 min) at the end {result['load_average_1m']}; "
            f"{result['elapsed_s']:.0f} s in all",
        ]
    )
