"""Which mistake an AMQP library error stands for, so a command can name the setting to fix.

The CLI's explanations (broker/cli/errors.py) ask here instead of knowing pika's and py-amqp's
exception classes: kombu and the router raise py-amqp's, the client library and the demo's
participants pika's, and both say the same few things.
"""

from __future__ import annotations

import errno
from enum import StrEnum

import amqp.exceptions
import pika.exceptions

from broker.transport.client import BrokerUnavailable, NotAuthorised


class BrokerMistake(StrEnum):
    PARTICIPANT_REFUSED = "participant_refused"
    """The client library, as a participant's own user, was not let in (login or vhost)."""
    LOGIN_REFUSED = "login_refused"
    NO_VHOST = "no_vhost"
    ACCESS_REFUSED = "access_refused"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"


_NO_ROUTE = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ETIMEDOUT)


def reply_text(error: BaseException) -> str:
    """The broker's reason, on one line and short (it names queues and users, never a password)."""
    text = getattr(error, "reply_text", None) or str(error)
    return " ".join(str(text).split())[:200]


def classify(error: BaseException) -> BrokerMistake | None:
    if isinstance(error, NotAuthorised):
        return BrokerMistake.PARTICIPANT_REFUSED
    return _refused(error) or _missing(error)


def _refused(error: BaseException) -> BrokerMistake | None:
    """The broker answered and said no: to the login, the vhost or the operation."""
    if "Login was refused" in str(error) or isinstance(
        error, pika.exceptions.ProbableAuthenticationError | pika.exceptions.AuthenticationError
    ):
        return BrokerMistake.LOGIN_REFUSED
    if isinstance(error, pika.exceptions.ProbableAccessDeniedError) or (
        isinstance(error, amqp.exceptions.NotAllowed) and "vhost" in reply_text(error)
    ):
        return BrokerMistake.NO_VHOST
    if isinstance(error, amqp.exceptions.AccessRefused) or (
        isinstance(error, pika.exceptions.ChannelClosedByBroker) and error.reply_code == 403
    ):
        return BrokerMistake.ACCESS_REFUSED
    return None


def _missing(error: BaseException) -> BrokerMistake | None:
    """What the command needs is not there: a queue or exchange, or the broker itself."""
    if isinstance(error, amqp.exceptions.NotFound) or (
        isinstance(error, pika.exceptions.ChannelClosedByBroker) and error.reply_code == 404
    ):
        return BrokerMistake.NOT_FOUND
    unreachable = BrokerUnavailable | pika.exceptions.AMQPConnectionError | ConnectionRefusedError
    if isinstance(error, unreachable) or (isinstance(error, OSError) and error.errno in _NO_ROUTE):
        return BrokerMistake.UNREACHABLE
    return None
