"""Keep a worker's session running: reconnect with exponential backoff (tenacity) when the broker
or the database goes away, starting the backoff afresh after every session that connected, so a
second outage is retried as quickly as the first."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from kombu import Connection
from sqlalchemy.exc import OperationalError
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

log = structlog.get_logger("referral_broker.reconnect")

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    *Connection().connection_errors,
    *Connection().channel_errors,
    OSError,  # includes ConnectionError, so ConfirmTimeout too
    OperationalError,
)
"""Errors of the broker or the database, after which a worker reconnects and retries; any other
error while handling a message is a bug, handled by the worker (quarantine or dead-letter)."""


def is_infrastructure_error(error: BaseException) -> bool:
    return isinstance(error, INFRASTRUCTURE_ERRORS)


FIRST_WAIT_S = 0.2
"""Wait before the first retry of an outage; it doubles per failed try."""
MAX_WAIT_S = 15.0
"""Longest wait between two tries."""


def keep_running(
    session: Callable[[Callable[[], None]], None],
    stopping: threading.Event,
    retryable: Callable[[BaseException], bool],
) -> None:
    """Run `session(connected)` until it returns. `session` calls `connected()` once it is up; an
    error `retryable` accepts is retried, any other is raised."""
    up = threading.Event()

    def again(error: BaseException) -> bool:
        return retryable(error) and not stopping.is_set()

    while True:
        up.clear()
        try:
            for attempt in Retrying(
                retry=retry_if_exception(again),
                wait=wait_exponential(multiplier=FIRST_WAIT_S, max=MAX_WAIT_S),
                stop=lambda _: up.is_set(),  # a session that connected ends this outage's retries
                before_sleep=_log_retry,
                reraise=True,
            ):
                with attempt:
                    up.clear()
                    session(up.set)
            return
        except BaseException as error:
            if up.is_set() and again(error):
                log.warning("connection lost, reconnecting", error=repr(error)[:200])
                continue
            raise


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "broker or database unreachable, retrying", attempt=state.attempt_number, error=repr(error)[:200]
    )
