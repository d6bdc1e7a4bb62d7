"""Keep a worker's session running: reconnect with exponential backoff (tenacity) when the broker
goes away, starting the backoff afresh only after a session that stayed up (STABLE_S), so a second
outage is retried as quickly as the first but a session that keeps failing is not restarted in a
storm. Riding out a database outage inside the session is broker/store/outage.py's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import amqp.exceptions
import structlog
from kombu import Connection
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from broker.store.outage import DATABASE_ERRORS, attempt_state

log = structlog.get_logger("referral_broker.reconnect")

T = TypeVar("T")

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    *Connection().connection_errors,
    *Connection().channel_errors,
    OSError,  # includes ConnectionError, so ConfirmTimeout too
    *DATABASE_ERRORS,
)
"""Errors of the broker or the database, after which a worker reconnects and retries; any other
error while handling a message is a bug, handled by the worker (quarantine or dead-letter)."""


def is_infrastructure_error(error: BaseException) -> bool:
    return isinstance(error, INFRASTRUCTURE_ERRORS)


def is_authentication_error(error: BaseException) -> bool:
    """The broker refused the login (wrong user or password) or the vhost: waiting cures neither,
    so a worker stops and says so instead of retrying forever."""
    if isinstance(error, amqp.exceptions.AccessRefused):
        return "Login was refused" in str(error)
    return isinstance(error, amqp.exceptions.NotAllowed) and "vhost" in str(error)


FIRST_WAIT_S = 0.2
"""Wait before the first retry of an outage; it doubles per failed try."""
MAX_WAIT_S = 15.0
"""Longest wait between two tries."""
STABLE_S = 10.0
"""A session that did work (it called `connected()` again after a settled batch) or stayed up this
long ends its outage: the next failure is retried at FIRST_WAIT_S again, so a second outage is
retried as quickly as the first. One that connected and failed before doing anything (a dependency
that is away, a bug at start) keeps the backoff growing: no reconnect storm, and the unacked input
handed back at each reconnect is not redelivered against the delivery limit hundreds of times."""


def keep_running(
    session: Callable[[Callable[[], None]], None],
    stopping: threading.Event,
    retryable: Callable[[BaseException], bool],
) -> None:
    """Run `session(connected)` until it returns. `session` calls `connected()` once it is up, and
    again whenever it has done work; an error `retryable` accepts is retried with backoff, any other
    is raised."""
    up_since: list[float] = []
    """When the session in hand came up, and a second entry once it has done work."""
    failures = 0

    def again(error: BaseException) -> bool:
        return retryable(error) and not stopping.is_set()

    def backoff(state: RetryCallState) -> float:
        nonlocal failures
        if len(up_since) > 1 or (up_since and time.monotonic() - up_since[0] >= STABLE_S):
            failures = 0
        failures += 1
        wait: float = wait_exponential(multiplier=FIRST_WAIT_S, max=MAX_WAIT_S)(attempt_state(failures))
        return wait

    for attempt in Retrying(
        retry=retry_if_exception(again),
        wait=backoff,
        sleep=lambda seconds: _interruptible_sleep(stopping, seconds),
        before_sleep=_log_retry,
        reraise=True,
    ):
        with attempt:
            up_since.clear()
            session(lambda: None if len(up_since) > 1 else up_since.append(time.monotonic()))


def _interruptible_sleep(stopping: threading.Event, seconds: float) -> None:
    stopping.wait(seconds)  # a stop during the wait starts the last attempt at once, which returns


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "session ended, reconnecting",
        attempt=state.attempt_number,
        wait_s=round(state.upcoming_sleep, 2),
        error=repr(error)[:200],
    )
