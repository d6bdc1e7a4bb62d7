"""How far the times a sender writes may stray from the router's clock. Pure.

A `sent_at` years off skews the age metrics and everything measured from the message; a police
referral approved "in 9999" would never let the tracker's 24-hour transfer deadline fall due.
The router checks both against its own clock (RoutingContext.now). Refusals say which way a time is
off and by more than what, never the value itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the router's clock a sender's clock may run. Participants keep time by NTP,
which holds clocks within a second; five minutes leaves room for a badly kept one."""

SENT_AT_MAX_AGE = timedelta(days=90)
"""The oldest `sent_at` routed. Longer than any outage the router catches up from (inputs wait in
its durable queue), short enough that a wrong year (2001, or last year) is caught. Generous rather
than tight because the demo's compressed clock turns a second of queueing into days."""

APPROVAL_MAX_AGE = timedelta(days=366)
"""The oldest bureau head's approval (`body.approved_at`) a police referral may carry. Decree 310
wants the transfer within 24 hours of it; a later one is routed and the tracker records it late,
but an approval more than a year old is a wrong date, not a late transfer."""


def _span(span: timedelta) -> str:
    if span.days:
        return f"{span.days} days"
    return f"{int(span.total_seconds() // 60)} minutes"


def implausible(at: datetime, now: datetime, max_age: timedelta, skew: timedelta = CLOCK_SKEW) -> str | None:
    """Why `at` is outside [now - max_age, now + skew], or None when it is inside."""
    if at > now + skew:
        return f"is more than {_span(skew)} ahead of the broker's clock"
    if at < now - max_age:
        return f"is more than {_span(max_age)} before the broker's clock"
    return None


__all__ = ["APPROVAL_MAX_AGE", "CLOCK_SKEW", "SENT_AT_MAX_AGE", "implausible"]
