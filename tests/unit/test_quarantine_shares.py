"""Each sender's share of the quarantine (broker/router/shares.py): a pure policy, so a flood by one
participant is bounded in bodies, bytes and entries, and never costs another participant its own."""

from __future__ import annotations

import pytest

from broker.router.shares import WINDOW_S, Admission, Keep, QuarantineShares, ShareLimits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def shares(**limits: float) -> tuple[QuarantineShares, Clock]:
    clock = Clock()
    return QuarantineShares(ShareLimits(**limits), clock), clock  # type: ignore[arg-type]


def keeps(s: QuarantineShares, user: str | None, n: int, size: int = 100) -> list[Keep]:
    return [s.admit(user, size).keep for _ in range(n)]


def test_bodies_then_entries_then_one_fold_entry_per_period() -> None:
    s, clock = shares(bodies=3, entries=5, fold_s=60)
    got = keeps(s, "flooder", 9)
    assert got == [Keep.WHOLE] * 3 + [Keep.ENTRY] * 2 + [Keep.FOLD] + [Keep.FOLDED] * 3
    clock.now += 60
    fold = s.admit("flooder", 100)
    assert fold == Admission(Keep.FOLD, news=True, folded_before=3)
    assert keeps(s, "flooder", 2) == [Keep.FOLDED] * 2


def test_one_senders_flood_leaves_the_others_shares_whole() -> None:
    s, _ = shares(bodies=2, entries=2)
    keeps(s, "flooder", 50)
    assert keeps(s, "honest", 2) == [Keep.WHOLE, Keep.WHOLE]
    # input without a validated user_id shares one account, apart from everyone's
    assert keeps(s, None, 3) == [Keep.WHOLE, Keep.WHOLE, Keep.FOLD]
    assert keeps(s, "", 1) == [Keep.FOLDED]


def test_the_byte_share_withholds_bodies_before_the_count_does() -> None:
    s, _ = shares(bodies=100, body_bytes=1000, entries=200)
    assert keeps(s, "big", 3, size=400) == [Keep.WHOLE, Keep.WHOLE, Keep.ENTRY]
    assert s.admit("big", 150).keep is Keep.WHOLE  # 950 bytes: still within the share


def test_a_new_hour_gives_the_share_back_and_reports_the_last_folding() -> None:
    s, clock = shares(bodies=1, entries=1, fold_s=60)
    assert keeps(s, "u", 4) == [Keep.WHOLE, Keep.FOLD, Keep.FOLDED, Keep.FOLDED]
    clock.now += WINDOW_S
    assert s.admit("u", 10) == Admission(Keep.WHOLE, news=False, folded_before=2)
    assert s.admit("u", 10) == Admission(Keep.FOLD, news=True, folded_before=0)


def test_news_marks_the_first_entry_without_body_and_each_fold() -> None:
    s, clock = shares(bodies=1, entries=3, fold_s=10)
    news = [s.admit("u", 1).news for _ in range(5)]
    assert news == [False, True, False, True, False]
    clock.now += 10
    assert s.admit("u", 1).news


def test_accounts_of_past_hours_are_forgotten_unless_they_owe_a_count() -> None:
    s, clock = shares(bodies=1, entries=1)
    keeps(s, "folding", 3)
    for n in range(1100):
        s.admit(f"user{n}", 1)
    clock.now += WINDOW_S
    s.admit("newcomer", 1)
    assert set(s._accounts) == {"folding", "newcomer"}


def test_route_option_sets_ten_entries_per_body() -> None:
    assert ShareLimits.per_hour(7) == ShareLimits(bodies=7, entries=70)


@pytest.mark.parametrize(
    "limits", [{"bodies": -1}, {"fold_s": 0}, {"bodies": 10, "entries": 5}], ids=str
)
def test_limits_that_make_no_sense_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="quarantine share limits"):
        ShareLimits(**limits)  # type: ignore[arg-type]


def test_what_may_not_be_folded_keeps_its_entry_past_the_share() -> None:
    s, _ = shares(bodies=1, entries=2)
    assert keeps(s, "u", 3) == [Keep.WHOLE, Keep.ENTRY, Keep.FOLD]
    assert [s.admit("u", 1, foldable=False).keep for _ in range(3)] == [Keep.ENTRY] * 3
    assert s.admit("u", 1).keep is Keep.FOLDED  # the folding period goes on for the rest
