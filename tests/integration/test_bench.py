"""`referral-broker bench` on a small run: every figure of its JSON line is there and consistent.
Not a timed assertion: the machine's load decides the rates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from broker.settings import Settings
from broker.tools import nodes
from broker.tools.bench.run import run

pytestmark = pytest.mark.rabbitmq

KEYS = {
    "router_msgs_per_s",
    "limit_msgs_per_s",
    "ratio",
    "router_cpu_us_per_msg",
    "limit_cpu_us_per_msg",
    "p50_ms",
    "p99_ms",
    "limit_p99_ms",
    "peak_rss_mb",
}


def test_bench_reports_rates_cpu_latency_of_router_and_limit(broker_root: Settings) -> None:
    result = run(broker_root, messages=600, rate=50, seconds=2)
    assert result.keys() >= KEYS
    for key in KEYS:
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["ratio"] == round(result["router_msgs_per_s"] / result["limit_msgs_per_s"], 3)
    assert result["latency_samples"] == 125  # 100 offered, a quarter of them with two copies
    assert result["limit_latency_samples"] == 100
    assert result["p50_ms"] <= result["p99_ms"]
    # sealed by default, with the same messages in clear beside it
    assert result["sealed"] is True and result["suite"] == "rb-intl-1"
    assert result["seal_us_per_msg"] > 0 and result["router_plaintext_msgs_per_s"] > 0
    assert result["router_sealing_cpu_us_per_msg"] == round(
        result["router_cpu_us_per_msg"] - result["router_plaintext_cpu_us_per_msg"], 1
    )
    json.dumps(result)


def bench_cli(options: list[str], timeout: float) -> tuple[subprocess.CompletedProcess[str], Any]:
    """`referral-broker bench OPTIONS --json` as a subprocess: the run, and its JSON line."""
    command = [sys.executable, "-m", "broker.cli", "bench", *options, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not nodes.available(), reason="rabbitmq-server is not installed here")
def test_bench_scale_prints_the_curve_on_a_node_of_its_own() -> None:
    done, result = bench_cli(["--scale", "--sizes", "10,30", "--scale-messages", "200"], 280)
    steps = result["scale"]
    assert [s["participants"] for s in steps] == [10, 30]
    assert [s["provisioned_now"] for s in steps] == [10, 20]
    assert steps[1]["queues"] - steps[0]["queues"] == 20  # one quorum inbox per participant
    for step in steps:
        assert step["broker_mem_used_mb"] > 0 and step["broker_rss_mb"] > 0 and step["router_msgs_per_s"] > 0
        assert step["router_cpu_us_per_msg"] > 0 and step["router_peak_rss_mb"] > 0
    assert result["broker_open_file_limit"] > 1024
    assert "participants" in done.stdout.splitlines()[1]  # the printed curve's header


@pytest.mark.slow
@pytest.mark.skipif(not nodes.available(), reason="rabbitmq-server is not installed here")
def test_bench_cluster_routes_every_message_with_one_and_two_sharded_routers() -> None:
    from broker.store.scratch import postgres_reachable

    if not postgres_reachable():
        pytest.skip("the routers share a PostgreSQL memory: none answers at RB_TEST_POSTGRES_URL")
    done, result = bench_cli(["--cluster", "--routers", "1,2", "--cluster-messages", "400"], 400)
    steps = result["cluster"]
    assert [s["routers"] for s in steps] == [1, 2] and result["nodes"] == 3
    assert steps[0]["scaling"] == 1.0
    for step in steps:  # a step ends only once every output of its 400 messages is in place
        assert step["msgs_per_s"] > 0 and step["cpu_us_per_msg"] > 0 and step["router_peak_rss_mb"] > 0
    assert "routers" in done.stdout.splitlines()[1]  # the printed table's header


def test_bench_profile_names_where_the_routers_cpu_goes(broker_root: Settings, tmp_path: Path) -> None:
    from broker.tools.bench.profile import run_profile

    stats = tmp_path / "router.prof"
    result = run_profile(broker_root, messages=300, top=15, stats_out=stats)
    assert len(result["top"]) == 15
    assert result["profiled_us_per_msg"] > 0 and stats.stat().st_size > 0
    steps = result["steps_cum_us_per_msg"]
    # the router's own steps were seen running, so the profile is of the router, not of start-up
    for step in ("check: contract, authentication", "publish (py-amqp)", "wait for confirms"):
        assert steps[step] > 0, step
    assert 0 < sum(result["shares_pct"].values()) <= 100.0
    assert any("amqp/" in t["function"] or "broker/" in t["function"] for t in result["top"])


def test_bench_parts_times_every_part_of_the_routers_work_alone(broker_root: Settings) -> None:
    from broker.tools.bench.parts import PART_NAMES, render_parts, run_parts

    result = run_parts(broker_root, messages=300)
    assert result["parts_messages"] == 300
    for name in PART_NAMES:
        figure = result[f"{name.replace(' ', '_')}_us_per_msg"]
        assert isinstance(figure, float) and figure > 0, name
    assert result["memory_rows"] == 0 and result["memory_db_mb"] > 0
    printed = render_parts(result).splitlines()
    assert len(printed) == 2 + len(PART_NAMES) and all("µs" in line for line in printed[1:-1])
    assert printed[-1].endswith("MB on disk after its part")
    json.dumps(result)
