"""The SQL memory's prune, on SQLite and PostgreSQL: oldest first, at most a limit, with the
deliveries and subjects. And the running router (broker/router/pruning.py) forgets what it
routed more than 400 days ago on its first turn with nothing to route, and only that: a reply to
a message it still remembers is routed to the original's sender afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Kind
from broker.domain.routing import RoutingContext, decide
from broker.domain.routing_values import InMemoryRoutingMemory, RoutedRecord
from broker.store.memory import RETENTION_DAYS, SqlRoutingMemory, deliveries, routed, subjects
from broker.store.scratch import postgres_reachable, temporary_database
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.routing import mix_records
from tests.support.traffic import receive, send
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER, RECIPIENT = "bureau:330681", "bureau:330600"


def test_the_router_forgets_messages_past_retention_and_keeps_the_rest(
    provisioned: Deployment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'router.sqlite3'}"
    context = RoutingContext(default_registry(), provisioned.participants.addresses, InMemoryRoutingMemory())
    old, recent = (msg(Kind.ASSISTANCE_REQUEST, SENDER, [RECIPIENT], case_id=c) for c in ("OLD-1", "NEW-1"))
    memory = SqlRoutingMemory(url)
    try:
        memory.begin([(RoutedRecord.of(m, decide(m, context)), "d") for m in (old, recent)])
        memory.confirmed({}, {old.envelope.message_id, recent.envelope.message_id})
        with memory.engine.begin() as conn:
            conn.execute(
                update(routed)
                .where(routed.c.message_id == str(old.envelope.message_id))
                .values(routed_at=time.time() - (RETENTION_DAYS + 1) * 86_400)
            )

        provisioned.start_router(database_url=url)
        assert provisioned.router is not None
        router = provisioned.router
        assert wait_for(lambda: router.pruning.forgotten == 1, timeout=15)
        assert memory.original(old.envelope.message_id) is None
        assert memory.original(recent.envelope.message_id) is not None

        reply = msg(
            Kind.ASSISTANCE_REPLY,
            RECIPIENT,
            [SENDER],
            body={"findings": "found", "complete": True},
            case_id="NEW-1",
            in_reply_to=recent.envelope.message_id,
        )
        send(provisioned, reply)
        ((got, meta),) = receive(provisioned.client(SENDER))
        assert got.envelope.message_id == reply.envelope.message_id and str(meta.rule).startswith("reply.")
    finally:
        memory.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def memory_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    if not postgres_reachable():
        pytest.skip("needs the PostgreSQL server that routers share their memory in")
    with temporary_database("postgres", tmp_path) as url:
        yield url


def test_the_sql_memory_forgets_the_oldest_first_with_their_deliveries_and_subjects(memory_url: str) -> None:
    records = mix_records(30)
    memory = SqlRoutingMemory(memory_url)
    try:
        memory.begin([(r, "d") for r in records])
        day = 86_400
        with memory.engine.begin() as conn:
            for age, record in enumerate(records[:20]):  # 20 past retention, the first the oldest
                routed_at = time.time() - (RETENTION_DAYS + 20 - age) * day
                conn.execute(
                    update(routed)
                    .where(routed.c.message_id == str(record.message_id))
                    .values(routed_at=routed_at)
                )
        assert memory.prune(RETENTION_DAYS, limit=15) == 15
        gone = [r for r in records if memory.original(r.message_id) is None]
        assert gone == records[:15]
        assert memory.prune(RETENTION_DAYS, limit=15) == 5
        assert memory.prune(RETENTION_DAYS, limit=15) == 0
        with memory.engine.connect() as conn:
            kept = {str(r.message_id) for r in records[20:]}
            for table in (routed, deliveries, subjects):
                left = set(conn.execute(select(table.c.message_id).distinct()).scalars())
                assert left <= kept, table.name
            assert conn.execute(select(func.count()).select_from(routed)).scalar() == 10
    finally:
        memory.close()


def test_a_prune_of_more_than_one_chunk_forgets_every_one(memory_url: str) -> None:
    from broker.store.memory import PRUNE_CHUNK
    from broker.tools.bench.parts import _remember

    like = mix_records(20)
    memory = SqlRoutingMemory(memory_url)
    try:
        _remember(memory, like, 2 * PRUNE_CHUNK + 7)
        with memory.engine.begin() as conn:
            conn.execute(update(routed).values(routed_at=routed.c.routed_at - (RETENTION_DAYS + 1) * 86_400))
        assert memory.prune(RETENTION_DAYS) == 2 * PRUNE_CHUNK + 7
        with memory.engine.connect() as conn:
            for table in (routed, deliveries, subjects):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0, table.name
    finally:
        memory.close()
