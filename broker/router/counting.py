"""The router's counters, its Prometheus series and its routing-log lines, written after the ack."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import structlog

from broker import metrics
from broker.router.outcomes import Duplicate, Outcome, Quarantine

log = structlog.get_logger("referral_broker.router")
"""The router's logger: every component of the router logs under this one name."""


@dataclass
class Counters:
    received: int = 0
    routed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    deliveries: int = 0
    retried: int = 0
    dead_lettered: int = 0
    refusals: int = 0
    """delivery_refused notices published (broker/domain/refusals.py)."""
    folded: int = 0
    """Refused inputs of senders past their quarantine share, counted and not kept (also in
    `quarantined`)."""
    sessions: int = 0
    """Broker sessions opened: 1 plus one per reconnect."""
    by_rule: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=1024)
def _series(metric: Any, *labels: str) -> Any:
    """A labelled series, looked up once (prometheus_client's labels() takes a lock and builds its
    key on every call; the router counts several series per input)."""
    return metric.labels(*labels)


def count_and_log(
    counters: Counters, outcome: Outcome, record: dict[str, Any] | None, batch_ms: float, batch: int
) -> None:
    """Count the outcome (counters and Prometheus) and write its routing-log line."""
    if isinstance(outcome, Duplicate):
        counters.duplicates += 1
        _series(metrics.ROUTER_MESSAGES, "duplicate", "any").inc()
        log.info("duplicate", message_id=outcome.message_id)
        return
    # the line before the counters: whoever waits for a count sees the line already written
    if record is not None:
        fields = {
            k: v for k, v in record.items() if k not in ("event", "case", "record_version") and v is not None
        }
        log.info(record["event"], latency_ms=batch_ms, batch=batch, **fields)
    if isinstance(outcome, Quarantine):
        counters.quarantined += 1
        _series(metrics.ROUTER_MESSAGES, "quarantined", "unknown").inc()
        _series(metrics.ROUTER_QUARANTINED, outcome.stage).inc()
    else:
        counters.routed += 1
        counters.deliveries += len(outcome.pending)
        _series(metrics.ROUTER_MESSAGES, "routed", outcome.decision.kind.value).inc()
        metrics.ROUTER_AGE_SECONDS.observe(
            max(0.0, time.time() - outcome.message.envelope.sent_at.timestamp())
        )
        for d in outcome.decision.deliveries:
            rule = d.rule.value
            counters.by_rule[rule] = counters.by_rule.get(rule, 0) + 1
            _series(metrics.ROUTER_DELIVERIES, rule).inc()


def count_dead_lettered(counters: Counters) -> None:
    counters.dead_lettered += 1
    metrics.ROUTER_MESSAGES.labels("dead_lettered", "unknown").inc()


def count_folded(counters: Counters) -> None:
    """A refused input past its sender's quarantine share (broker/router/shares.py): no line of its
    own (a flood would fill the log as it would have filled the quarantine); `quarantined` counts it
    once it is acked."""
    counters.folded += 1
    metrics.ROUTER_QUARANTINE_SHARE.labels("folded").inc()
