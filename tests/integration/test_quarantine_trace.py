"""`trace` shows a refused message from the moment the router refused it (issue 13): the tracker
reads the router's quarantine records from the routing log and writes the verdict into the audit
trail, without any operator command having looked at the quarantine. Real RabbitMQ, router and
tracker; a SQLite tracker database."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.domain.factory import new_message
from broker.domain.messages import Kind
from broker.store.tracker.views import trace
from broker.tools.contract.examples import CASE_FACTS
from broker.tracker.clock import ManualClock
from tests.support.deployment import Deployment
from tests.support.tracker import Running
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

CASE = "ZJZJ-2019-77"


def test_a_quarantined_message_is_in_trace_before_any_operator_looks(
    deployment: Deployment, tmp_path: Path
) -> None:
    running = Running(deployment, f"sqlite:///{tmp_path / 'tracker.sqlite3'}", ManualClock(), [])
    try:
        # Keqiao's bureau is not provisioned: refused at the routing stage
        notice = new_message(
            Kind.CASE_NOTICE, "bureau:330681", ["bureau:330603"], CASE, {"summary": "x"}, case=CASE_FACTS
        )
        deployment.client("bureau:330681").publish(notice)
        message_id = str(notice.envelope.message_id)

        def verdicts() -> list[str]:
            return [e.detail for e in trace(running.store.engine, message_id) if e.event == "quarantined"]

        assert wait_for(lambda: bool(verdicts()), timeout=20)
        assert len(verdicts()) == 1
        assert verdicts()[0].startswith("routing envelope.to:")
        assert "bureau:330603" in verdicts()[0]
        # the refusal notice the sender got is part of the story, and its id finds it too
        assert "delivery_refused" in verdicts()[0] and "sent to bureau:330681" in verdicts()[0]
        notice_id = verdicts()[0].split("delivery_refused ")[1].split(" ")[0]
        assert [e.event for e in trace(running.store.engine, notice_id)] == ["quarantined"]
        by_case = trace(running.store.engine, CASE)
        assert [e.event for e in by_case] == ["quarantined"] and by_case[0].actor == "bureau:330681"
    finally:
        running.stop()
