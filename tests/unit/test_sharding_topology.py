"""The sharded topology as declared (no broker): shard queues, their retry queues and names."""

from __future__ import annotations

import hashlib

import pytest

from broker.settings import SettingsError, shard_count
from broker.transport import shard_key, topology
from broker.transport.deadletter import home


def _by_name(count: int) -> dict[str, object]:
    return {entity.name: entity for entity in topology.core_entities(count)}


def test_one_shard_is_the_unsharded_topology_without_the_hash_exchange() -> None:
    names = list(_by_name(1))
    assert topology.SHARD_EXCHANGE not in names
    assert (
        topology.Shard().queue == topology.ROUTER_QUEUE
        and topology.Shard().retry_queue == topology.RETRY_QUEUE
    )


def test_each_shard_has_a_single_active_consumer_quorum_queue_and_a_retry_queue_back_to_it() -> None:
    entities = _by_name(3)
    assert entities[topology.SHARD_EXCHANGE].type == "x-consistent-hash"
    for shard in topology.shards(3):
        queue = entities[shard.queue]
        args = queue.queue_arguments
        assert args["x-single-active-consumer"] is True and args["x-queue-type"] == "quorum"
        assert queue.exchange.name == topology.SHARD_EXCHANGE
        retry = entities[shard.retry_queue].queue_arguments
        # a parked input returns to its own shard, not through the hash (its routing key is lost)
        assert retry["x-dead-letter-exchange"] == "" and retry["x-dead-letter-routing-key"] == shard.queue
        assert retry["x-message-ttl"] == topology.RETRY_DELAY_MS
        assert retry["x-dead-letter-strategy"] == "at-least-once" and retry["x-overflow"] == "reject-publish"
    # the unsharded retry queue stays for a router draining rb.router.inbound after the switch
    assert entities[topology.RETRY_QUEUE].queue_arguments["x-dead-letter-exchange"] == "rb.inbound"


def test_the_shard_key_is_a_digest_any_language_computes_and_never_the_case_id() -> None:
    case = "330681-2026-0042"
    assert shard_key.of_case(case) == hashlib.sha256(case.encode()).hexdigest()[:16]
    assert case not in shard_key.of_case(case)
    body = b'{"envelope": {"case_id": "330681-2026-0042"}, "body": {}}'
    assert shard_key.of_body(body) == shard_key.of_case(case)
    for not_a_message in (
        b"garbage",
        b"[]",
        b'{"envelope": {"case_id": 7}}',
        b'{"envelope": null}',
        b"\xff",
        b"[" * 100_000,
    ):
        assert shard_key.of_body(not_a_message) == ""


def test_dead_letters_of_a_shard_go_back_to_that_shard() -> None:
    assert home("rb.router.inbound.3") == ("", "rb.router.inbound.3")
    assert home(topology.ROUTER_QUEUE) == (topology.INBOUND_EXCHANGE, "")
    assert home("rb.router.inbound.x") is None and home("rb.inbox.bureau:330681.abc") is None


@pytest.mark.parametrize(("text", "why"), [("0", "give 1"), ("65", "give 1"), ("two", "whole number")])
def test_a_bad_shard_count_names_the_variable_and_the_reason(text: str, why: str) -> None:
    with pytest.raises(SettingsError, match=f"RB_ROUTER_SHARDS.*{why}"):
        shard_count(text)


def test_a_shard_index_outside_the_count_is_refused() -> None:
    with pytest.raises(ValueError, match="0 to shards - 1"):
        topology.Shard(2, 2)
