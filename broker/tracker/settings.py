"""The tracker's configuration from the environment, in one place.

RB_AMQP_URL                 the broker, as the system user (system-000000, after RB_USER_PREFIX): it
                            reads rb.tracker.decisions and publishes notices to rb.inbound
RB_TRACKER_DATABASE_URL     SQLAlchemy URL of the tracker's state (default sqlite:///tracker.sqlite3;
                            postgresql+psycopg://user@host/db for several replicas)
RB_TRACKER_SCAN_INTERVAL    seconds between two scans for due notices (default 30)
RB_TRACKER_RULES            optional JSON file overriding the deadline rule table (rules.Policy.load)
RB_TRACKER_LEASE            seconds a tracker has to publish a notice it claimed (default 60)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from broker.settings import DEFAULT_AMQP_URL

DEFAULT_TRACKER_DATABASE_URL = "sqlite:///tracker.sqlite3"
DEFAULT_SCAN_INTERVAL_S = 30.0


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class TrackerSettings:
    amqp_url: str = field(default_factory=lambda: _env("RB_AMQP_URL", DEFAULT_AMQP_URL))
    database_url: str = field(
        default_factory=lambda: _env("RB_TRACKER_DATABASE_URL", DEFAULT_TRACKER_DATABASE_URL)
    )
    scan_interval_s: float = field(
        default_factory=lambda: float(_env("RB_TRACKER_SCAN_INTERVAL", str(DEFAULT_SCAN_INTERVAL_S)))
    )
    rules_file: str = field(default_factory=lambda: _env("RB_TRACKER_RULES", ""))
    lease_s: float = field(default_factory=lambda: float(_env("RB_TRACKER_LEASE", "60")))
