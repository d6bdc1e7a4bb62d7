"""Each sender's publish rate (broker/router/rates.py): a token bucket per authenticated user."""

from __future__ import annotations

import pytest

from broker.router.rates import SenderRates


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_other_senders_untouched() -> None:
    clock = Clock()
    rates = SenderRates(rate=2.0, burst=3, clock=clock)
    assert [rates.take("loop") for _ in range(5)] == [True, True, True, False, False]
    assert rates.take("other")
    clock.now += 0.5  # one token back
    assert [rates.take("loop") for _ in range(2)] == [True, False]
    clock.now += 100  # never more than the burst
    assert sum(rates.take("loop") for _ in range(10)) == 3


def test_rate_zero_is_no_limit() -> None:
    rates = SenderRates(rate=0, burst=1)
    assert all(rates.take("u") for _ in range(1000))


def test_input_without_user_shares_one_bucket() -> None:
    rates = SenderRates(rate=1.0, burst=1, clock=Clock())
    assert rates.take(None) and not rates.take("")


def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    rates = SenderRates(rate=1.0, burst=2, clock=clock)
    rates.take("busy")
    rates.take("busy")
    for n in range(5000):
        rates.take(f"u{n}")
    clock.now += 1.0
    rates.take("newcomer")
    assert "busy" in rates._buckets and len(rates._buckets) < 5000


def test_the_reason_names_the_limit_and_no_value() -> None:
    assert SenderRates(rate=2.5, burst=10).refusal() == (
        "sender over its publish rate (2.5 messages a second, bursts of 10)"
    )


@pytest.mark.parametrize(("rate", "burst"), [(-1.0, 5), (1.0, 0)])
def test_limits_that_make_no_sense_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="sender rate"):
        SenderRates(rate=rate, burst=burst)
