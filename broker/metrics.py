"""Prometheus metrics of the workers, defined in one place. `--metrics-port` serves them.

Each worker serves only its own families (`ROUTER` or `TRACKER`, plus the process's), so a
tracker's scrape holds no router histograms, which there were always empty. Every labelled series
a dashboard or an alert reads exists from the start at 0: an alert on
`increase(rb_router_quarantined_total[15m])` otherwise misses the first quarantines after a start,
since Prometheus sees a series appear already at 1, not an increase.
"""

from __future__ import annotations

import os
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from broker.domain.messages import Kind, RefusalStage
from broker.domain.routing import Rule

DEFAULT_HOST = os.environ.get("RB_METRICS_HOST") or "127.0.0.1"
"""RB_METRICS_HOST: where a metrics port binds; this machine only unless told (the container image
sets 0.0.0.0, where the compose network is the boundary and the port is not published)."""

QUARANTINE_STAGES = tuple(stage.value for stage in RefusalStage)
"""The router's quarantine stages (broker/router/outcomes.py Quarantine.stage)."""
TRACKER_NOTICE_TYPES = ("reminder", "escalation", "overdue")

ROUTER_MESSAGES = Counter(
    "rb_router_messages",
    "Inputs handled by the router, by outcome (routed, quarantined, duplicate) and message kind.",
    ["outcome", "kind"],
)
ROUTER_QUARANTINED = Counter(
    "rb_router_quarantined",
    "Inputs quarantined, by stage (transport, rate, contract, authentication, routing, duplicate, internal).",
    ["stage"],
)
ROUTER_QUARANTINE_SHARE = Counter(
    "rb_router_quarantine_share",
    "Refused inputs of senders past their quarantine share (broker/router/shares.py), by what was "
    "kept: entry (without the body), fold (the entry opening a folding period), folded (counted only).",
    ["kept"],
)
ROUTER_DELIVERIES = Counter("rb_router_deliveries", "Copies delivered to inboxes, by routing rule.", ["rule"])
ROUTER_BATCH_SECONDS = Histogram(
    "rb_router_batch_seconds",
    "Time to handle one batch: validate, decide, record, publish, wait for confirms, ack.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ROUTER_AGE_SECONDS = Histogram(
    "rb_router_message_age_seconds",
    "Time from the sender's sent_at until the router published the copies (end-to-end latency so far).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0),
)
TRACKER_OBLIGATIONS = Gauge(
    "rb_tracker_obligations",
    "Obligations tracked, by state (open, overdue), as of the last scan.",
    ["state"],
)
TRACKER_NOTICES = Counter(
    "rb_tracker_notices",
    "Deadline notices sent, by notice (reminder, escalation, overdue).",
    ["notice"],
)


def _initialise() -> None:
    """Create every labelled series at 0 (see the module's docstring)."""
    for stage in QUARANTINE_STAGES:
        ROUTER_QUARANTINED.labels(stage)
    ROUTER_MESSAGES.labels("quarantined", "unknown")
    for kept in ("entry", "fold", "folded"):
        ROUTER_QUARANTINE_SHARE.labels(kept)
    ROUTER_MESSAGES.labels("duplicate", "any")
    ROUTER_MESSAGES.labels("dead_lettered", "unknown")
    for kind in Kind:
        ROUTER_MESSAGES.labels("routed", kind.value)
    for rule in Rule:
        ROUTER_DELIVERIES.labels(rule.value)
    for state in ("open", "overdue"):
        TRACKER_OBLIGATIONS.labels(state)
    for notice in TRACKER_NOTICE_TYPES:
        TRACKER_NOTICES.labels(notice)


_initialise()


ROUTER: tuple[MetricWrapperBase, ...] = (
    ROUTER_MESSAGES,
    ROUTER_QUARANTINED,
    ROUTER_QUARANTINE_SHARE,
    ROUTER_DELIVERIES,
    ROUTER_BATCH_SECONDS,
    ROUTER_AGE_SECONDS,
)
TRACKER: tuple[MetricWrapperBase, ...] = (TRACKER_OBLIGATIONS, TRACKER_NOTICES)
SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count")
_PROCESS: tuple[Collector, ...] = (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR)


def sample_names(families: tuple[MetricWrapperBase, ...]) -> set[str]:
    """Every sample name these families and the process collectors expose."""
    names: set[str] = set()
    for collector in (*families, *_PROCESS):
        for family in collector.collect():
            names.update(s.name for s in family.samples)
            # every suffix, also of a histogram that has no observation yet
            names.update(f"{family.name}{suffix}" for suffix in SUFFIXES)
    return names


def serve(
    port: int, families: tuple[MetricWrapperBase, ...] = ROUTER, host: str | None = None
) -> WSGIServer | None:
    """Expose /metrics on this port (0: do not): these families and the process's only. Returns
    the server (it runs in a daemon thread)."""
    if not port:
        return None
    view = REGISTRY.restricted_registry(sample_names(families))
    server, _ = start_http_server(port, addr=host or DEFAULT_HOST, registry=view)
    return server
