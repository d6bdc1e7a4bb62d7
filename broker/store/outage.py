"""Ride out a database outage inside a worker's session: wait with backoff while the database is
away, holding the input the worker has, and tell an outage (waiting cures it) from a statement
the database refused (it does not)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import RetryCallState, Retrying, wait_exponential

log = structlog.get_logger("referral_broker.reconnect")

T = TypeVar("T")

DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError,)
"""The database's errors after which a worker reconnects and retries (with the broker's own)."""

FIRST_WAIT_S = 0.2
"""First wait after a failed try; it doubles up to DATABASE_MAX_WAIT_S."""


def attempt_state(number: int) -> RetryCallState:
    """A retry state for tenacity's wait strategies, numbered by this outage's failures."""
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = number
    return state


def is_database_outage(error: BaseException) -> bool:
    """A database that is away (stopped, restarting, unreachable, connection cut), as opposed to a
    statement it refused (a missing table, a constraint), which waiting would not cure."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


DATABASE_MAX_WAIT_S = 1.0
"""Longest wait between two tries of a database that is away: a try costs one connection attempt,
so input waits at most this long after the database is back."""


def ride_out_database(
    operation: Callable[[], T],
    stopping: threading.Event,
    keepalive: Callable[[float], None],
    what: str,
) -> T:
    """Run `operation` until it succeeds, waiting with backoff while the database is away.

    The caller keeps its broker session and its unacked input meanwhile (`keepalive(seconds)`
    serves the connection, e.g. heartbeats, while waiting): returning the input to its queue would
    count a delivery against the queue's limit for an outage that is not the message's fault.
    Raises the database's error only when `stopping` is set."""
    failures = 0
    while True:
        try:
            return operation()
        except Exception as error:
            if stopping.is_set() or not is_database_outage(error):
                raise
            failures += 1
            wait: float = wait_exponential(multiplier=FIRST_WAIT_S, max=DATABASE_MAX_WAIT_S)(
                attempt_state(failures)
            )
            if failures == 1 or failures % 10 == 0:
                log.warning(
                    "database unavailable; holding input until it is back",
                    during=what,
                    attempt=failures,
                    error=repr(error)[:200],
                )
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0 and not stopping.is_set():
                keepalive(min(left, 1.0))
