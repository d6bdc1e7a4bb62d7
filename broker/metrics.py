"""Prometheus metrics of the workers, defined in one place. `--metrics-port` serves them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

ROUTER_MESSAGES = Counter(
    "rb_router_messages",
    "Inputs handled by the router, by outcome (routed, quarantined, duplicate) and message kind.",
    ["outcome", "kind"],
)
ROUTER_QUARANTINED = Counter(
    "rb_router_quarantined",
    "Inputs quarantined, by stage (contract, authentication, routing, duplicate, internal).",
    ["stage"],
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
    "rb_tracker_obligations", "Obligations tracked, by state (open, overdue), as of the last scan.", ["state"]
)
TRACKER_NOTICES = Counter(
    "rb_tracker_notices", "Deadline notices sent, by notice (reminder, escalation, overdue).", ["notice"]
)


def serve(port: int) -> None:
    """Expose /metrics on this port (0: do not)."""
    if port:
        start_http_server(port)
