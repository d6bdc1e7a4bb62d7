"""Prometheus metrics: labelled series exist at 0 from the start (so increase() alerts fire on the
first quarantine), each worker serves its own families only, and ports bind to 127.0.0.1 unless told."""

from __future__ import annotations

import re
import socket
import urllib.request

from prometheus_client import REGISTRY

from broker import metrics
from broker.domain.messages import Kind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _outside_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent; only picks the outgoing interface
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_every_quarantine_stage_and_outcome_exists_at_zero_before_anything_happened() -> None:
    for stage in metrics.QUARANTINE_STAGES:
        value = REGISTRY.get_sample_value("rb_router_quarantined_total", {"stage": stage})
        assert value is not None, f"no series for stage {stage}"
    assert (
        REGISTRY.get_sample_value("rb_router_messages_total", {"outcome": "quarantined", "kind": "unknown"})
        is not None
    )
    for kind in Kind:
        assert (
            REGISTRY.get_sample_value("rb_router_messages_total", {"outcome": "routed", "kind": kind.value})
            is not None
        )
    for notice in ("reminder", "escalation", "overdue"):
        assert REGISTRY.get_sample_value("rb_tracker_notices_total", {"notice": notice}) is not None


def _scrape(families: tuple[object, ...]) -> str:
    port = _free_port()
    server = metrics.serve(port, families)  # type: ignore[arg-type]
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text: str = response.read().decode()
        outside = _outside_address()
        if outside is not None:  # bound to loopback only: another interface is refused
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((outside, port)) != 0, "the metrics port answers beyond 127.0.0.1"
        assert server.server_address[0] == "127.0.0.1"
        return text
    finally:
        server.shutdown()
        server.server_close()


def test_the_tracker_serves_its_own_families_and_not_the_routers_histograms() -> None:
    text = _scrape(metrics.TRACKER)
    assert "rb_tracker_notices_total" in text and "rb_tracker_obligations" in text
    assert "rb_router_" not in text
    assert "process_" in text or "python_" in text


def test_the_router_serves_its_histograms_and_not_the_trackers_series() -> None:
    text = _scrape(metrics.ROUTER)
    # the labelled series exists before (and whether or not) anything was quarantined in this
    # process; other tests in the same process may have counted some already
    assert "rb_router_batch_seconds_bucket" in text
    assert re.search(r'^rb_router_quarantined_total\{stage="contract"\} \d', text, re.MULTILINE)
    assert "rb_tracker_" not in text
