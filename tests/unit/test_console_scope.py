"""The console's pure parts: who sees what (province scope), the routing log's filters and its
bounded buffer, operator passwords and sessions."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from broker.console.accounts import Accounts, check_password, hash_password
from broker.console.routing_log import LogFilter, RoutingLog
from broker.console.scope import Scope
from broker.console.sessions import Sessions
from broker.credentials import CredentialsError


def routed(sender: str, *to: str, case: str = "ZJ-1", kind: str = "case_notice", rule: str = "r") -> dict:
    return {
        "event": "routed",
        "kind": kind,
        "sender": sender,
        "case_id": case,
        "deliveries": [{"to": t, "rule": rule} for t in to],
    }


def test_a_province_sees_traffic_that_touches_it_and_nothing_else() -> None:
    zhejiang, guangdong, national = Scope("33"), Scope("44"), Scope.parse("national")
    within = routed("bureau:330681", "bureau:330600")
    across = routed("bureau:440300", "bureau:440000", "bureau:330000")
    assert zhejiang.admits_record(within) and not guangdong.admits_record(within)
    assert zhejiang.admits_record(across) and guangdong.admits_record(across)
    assert national.admits_record(within) and national.admits_record({"event": "quarantined"})
    assert not zhejiang.admits_record({"event": "quarantined"})  # nothing readable: national only
    assert not zhejiang.admits_address("bureau:000000")  # SAMR is in no province
    notice = {"event": "routed", "sender": "system:000000", "notices": [{"to": ["bureau:330681"]}]}
    assert zhejiang.admits_record(notice) and not guangdong.admits_record(notice)


def test_a_held_message_is_scoped_by_its_validated_user_not_its_claim() -> None:
    assert Scope("33").admits_user("test-abc-bureau-330681")
    assert not Scope("44").admits_user("test-abc-bureau-330681")
    assert not Scope("33").admits_user(None) and not Scope("33").admits_user("referral-router")
    assert Scope(None).admits_user(None)


@pytest.mark.parametrize("bad", ["3", "330", "ab", "00", "99"])
def test_a_scope_is_national_or_two_digits_of_a_province(bad: str) -> None:
    with pytest.raises(ValueError, match="two digits"):
        Scope.parse(bad)


def test_the_log_filters_by_bureau_case_kind_rule_and_outcome() -> None:
    record = routed("bureau:330681", "bureau:330600", rule="vertical.addressed")
    assert LogFilter(bureau="330600").admits(record) and LogFilter(bureau="bureau:330681").admits(record)
    assert not LogFilter(bureau="330602").admits(record) and not LogFilter(bureau="police:330600").admits(
        record
    )
    assert LogFilter(case="ZJ-1", kind="case_notice", outcome="routed", rule="vertical.addressed").admits(
        record
    )
    assert not LogFilter(rule="vertical.down").admits(record)
    assert not LogFilter(outcome="quarantined").admits(record)
    assert not LogFilter(case="ZJ-2").admits(record)


def test_the_log_keeps_the_newest_records_and_its_case_index_follows() -> None:
    log = RoutingLog(capacity=3)
    for n in range(5):
        log.append(routed("bureau:330681", "bureau:330600", case=f"C-{n % 2}"))
    assert len(log) == 3
    entries, upto = log.newest(LogFilter(), Scope())
    assert [e.seq for e in entries] == [5, 4, 3] and upto == 5
    assert [e.seq for e in log.of_case("C-0")] == [3, 5]  # seq 1 dropped with the oldest
    assert [e.seq for e in log.newest(LogFilter(case="C-1"), Scope())[0]] == [4]
    assert log.newest(LogFilter(), Scope(), after=5) == ([], 5)
    assert [e.seq for e in log.newest(LogFilter(), Scope(), after=1)[0]] == [5, 4, 3]  # 2 is gone
    assert [e.seq for e in log.newest(LogFilter(), Scope(), after=3, limit=1)[0]] == [5]
    assert log.last() is not None and log.last().seq == 5
    assert RoutingLog(capacity=3).last() is None and len(RoutingLog(capacity=3)) == 0
    assert log.newest(LogFilter(), Scope("44"))[0] == []


def test_passwords_are_salted_scrypt_and_checked(tmp_path: Path) -> None:
    stored = hash_password("a long enough secret")
    assert stored.startswith("scrypt$") and "a long enough secret" not in stored
    assert stored != hash_password("a long enough secret")  # salted
    assert check_password("a long enough secret", stored) and not check_password("another", stored)
    assert not check_password("x", "md5$whatever")

    path = tmp_path / "operators.json"
    accounts = Accounts(path)
    accounts.add("alice", Scope("33"), "a long enough secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Accounts(path)
    assert again.verify("alice", "a long enough secret") is not None
    assert again.verify("alice", "wrong password!") is None and again.verify("bob", "x") is None
    with pytest.raises(ValueError, match="password: at least"):
        again.add("bob", Scope(None), "short")
    with pytest.raises(ValueError, match="login:"):
        again.add("Bob Smith", Scope(None), "a long enough secret")
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        Accounts(path)


def test_sessions_end_when_idle_and_when_ended() -> None:
    from broker.console.accounts import Operator

    sessions = Sessions(idle_s=0.2, lifetime_s=60)
    token = sessions.start(Operator("alice", Scope("33")))
    assert sessions.get(token) is not None
    assert sessions.get("forged") is None and sessions.get(None) is None
    time.sleep(0.3)
    assert sessions.get(token) is None
    token = sessions.start(Operator("alice", Scope("33")))
    assert sessions.end(token) is not None and sessions.get(token) is None
