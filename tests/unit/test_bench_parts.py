"""The benchmark's pure parts: its participant lists, its --sizes argument and process accounting."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest

from broker.cli.bench import _sizes
from broker.domain.address import DEPARTMENTS
from broker.tools.bench.procstat import cpu_seconds, peak_rss_mb
from broker.tools.bench.run import PARTICIPANTS
from broker.tools.bench.scale import participant_addresses


def test_a_bureau_and_a_police_office_per_division_make_distinct_participants() -> None:
    everyone = participant_addresses(6_422)  # 3,211 division codes, the national level included
    assert len(set(everyone)) == 6_422
    assert sum(a.startswith("bureau:") for a in everyone) == sum(a.startswith("police:") for a in everyone)


def test_every_step_holds_the_mix_senders_and_recipients() -> None:
    assert set(PARTICIPANTS) <= set(participant_addresses(10))
    assert participant_addresses(100) == participant_addresses(1_000)[:100]


def test_a_national_deployment_adds_every_department_of_every_division_after_them() -> None:
    national = participant_addresses(32_110)  # ten parties at each of 3,211 division codes
    assert len(set(national)) == 32_110
    assert national[:6_422] == participant_addresses(6_422)
    parties = {a.split(":")[0] for a in national}
    assert parties == {"bureau", "police", "procuratorate", *(p.value for p in DEPARTMENTS)}
    assert {a.split(":")[0] for a in national[:6_422]} == {"bureau", "police"}


def test_more_participants_than_divisions_give_is_refused_naming_the_option() -> None:
    with pytest.raises(ValueError, match="--sizes: 32111 is more than"):
        participant_addresses(32_111)


@pytest.mark.parametrize("text", ["100,many", "", "5"])
def test_sizes_must_be_counts(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="participant count"):
        _sizes(text)


def test_sizes_parse() -> None:
    assert _sizes("100,1000,6420") == (100, 1_000, 6_420)


def test_cpu_seconds_count_work_not_sleep() -> None:
    before = cpu_seconds(os.getpid())
    time.sleep(0.3)
    slept = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    worked = cpu_seconds(os.getpid())
    assert before is not None and slept is not None and worked is not None
    assert slept - before < 0.1
    assert worked - slept >= 0.2


def test_peak_rss_of_a_live_process_and_none_for_a_gone_one() -> None:
    rss = peak_rss_mb(os.getpid())
    assert rss is not None and rss > 1
    assert cpu_seconds(2**22 + 1) is None and peak_rss_mb(2**22 + 1) is None


def test_a_curve_that_ends_early_prints_what_its_last_step_measured() -> None:
    from broker.tools.bench.scale import render_scale

    measured = {"participants": 100, "queues": 107, "provision_s": 2.0, "provision_ms_per_participant": 20.0}
    steps = [
        {
            **measured,
            "broker_mem_used_mb": 150.0,
            "broker_rss_mb": 200.0,
            "router_msgs_per_s": 2000.0,
            "router_cpu_us_per_msg": 400,
        },
        {
            **measured,
            "participants": 32_110,
            "broker_mem_used_mb": 9000.0,
            "broker_rss_mb": 9500.0,
            "router_error": "TimeoutError: timed out",
        },
    ]
    steps[0]["router_peak_rss_mb"] = 84.0
    printed = render_scale({"scale": steps, "messages_per_step": 5000, "broker_open_file_limit": 65536})
    first, last = printed.splitlines()[2:]
    assert "2,000" in first and "84.0" in first
    assert (
        "32,110" in last
        and "9000.0" in last
        and "9500.0" in last
        and "routing failed: TimeoutError: timed out" in last
    )


def test_a_curve_whose_provisioning_failed_says_so_on_the_bench_node_and_the_run_fails() -> None:
    from broker.tools.bench.scale import STEP_ERRORS, render_scale

    steps = [
        {
            "participants": 100,
            "queues": 107,
            "provision_s": 2.0,
            "provision_ms_per_participant": 20.0,
            "broker_mem_used_mb": 150.0,
            "broker_rss_mb": 200.0,
            "router_msgs_per_s": 2000.0,
            "router_cpu_us_per_msg": 400,
            "router_peak_rss_mb": 84.0,
        },
        {"participants": 1000, "provision_error": "ManagementError: did not answer within 60 s"},
    ]
    printed = render_scale({"scale": steps, "messages_per_step": 5000, "broker_open_file_limit": 65536})
    first, last = printed.splitlines()[2:]
    assert "2,000" in first
    assert "1,000" in last and "bench's own node failed: ManagementError: did not answer within 60 s" in last
    assert "RB_MANAGEMENT_URL" not in printed
    assert any(error in steps[-1] for error in STEP_ERRORS)


def test_the_memory_part_can_start_from_a_memory_that_already_remembers_many_messages(
    tmp_path: Path,
) -> None:
    from sqlalchemy import func, select

    from broker.store.memory import SqlRoutingMemory, routed
    from broker.tools.bench.parts import _remember
    from tests.support.routing import mix_records

    like = mix_records(40)
    memory = SqlRoutingMemory(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        _remember(memory, like, 1_234)
        with memory.engine.connect() as conn:
            ids, distinct, state = conn.execute(
                select(func.count(), func.count(func.distinct(routed.c.message_id)), func.min(routed.c.state))
            ).one()
            cases = conn.execute(select(func.count(func.distinct(routed.c.case_id)))).scalar()
        assert (ids, distinct, state, cases) == (1_234, 1_234, "routed", 1_234)
    finally:
        memory.close()
