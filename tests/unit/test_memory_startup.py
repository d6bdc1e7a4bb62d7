"""Routers that start at once on one database (replicas, or the CLI beside a running router) must
all come up: creating the routing memory's tables raced ("table routed_messages already exists")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_eight_routers_creating_one_database_at_once_all_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'router.sqlite3'}"
    code = f"from broker.store.memory import SqlRoutingMemory; SqlRoutingMemory({url!r}).close()"
    starts = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(8)]
    failed = [p.communicate(timeout=60)[1].decode()[-300:] for p in starts if p.wait(timeout=60) != 0]
    assert not failed, failed
