"""The operator commands: trace, overdue, stats, holidays (SQLite, no broker)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from broker.cli.main import main
from broker.domain.messages import Kind
from broker.store.tracker.store import TrackerStore
from broker.tools.records import Desk
from broker.tracker.calendar import BEIJING


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    monkeypatch.setenv("RB_TRACKER_DATABASE_URL", url)
    desk = Desk()
    at = datetime(2024, 9, 2, 10, tzinfo=BEIJING)
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], at, "CLI-1")
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", at.replace(hour=15))
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330600", ["bureau:330602"], at, "CLI-2")
    store = TrackerStore(url)
    store.ingest([request, ack, notice], at)
    store.close()
    return request.message_id


def test_trace_prints_a_readable_history_and_json(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", database]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["time", "(Beijing)", "event", "message", "by", "party", "detail"]
    assert "2024-09-02 10:00 CST  received" in out and "closed by receipt_ack" in out
    assert main(["trace", "CLI-1", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert {e["event"] for e in events} >= {"received", "routed", "obligation_opened", "answered", "closed"}
    assert main(["trace", "nothing-like-it"]) == 1


def test_overdue_lists_what_a_bureau_owes(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["overdue", "--json"]) == 0
    late = json.loads(capsys.readouterr().out)
    assert sorted((o["owed_by"], o["what"]) for o in late) == [
        ("bureau:330600", "assistance_reply"),
        ("bureau:330602", "receipt"),
    ]
    assert all(o["overdue"] and o["overdue_by_s"] > 0 for o in late)
    assert main(["overdue", "--bureau", "330602"]) == 0
    out = capsys.readouterr().out
    assert "bureau:330602" in out and "assistance_reply" not in out and "1 overdue" in out


def test_stats_per_bureau(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--json"]) == 0
    stats = {s["party"]: s for s in json.loads(capsys.readouterr().out)}
    assert stats["bureau:330600"]["on_time"] == 1 and stats["bureau:330600"]["overdue"] == 1
    assert stats["bureau:330600"]["share_on_time"] == 0.5
    assert stats["bureau:330600"]["median_answer_s"] == 5 * 3600
    assert main(["stats"]) == 0
    assert "50%" in capsys.readouterr().out


def test_holidays_load_and_list(database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "2027.csv"
    good.write_text("date,kind,name\n2027-01-01,holiday,New Year\n2027-02-07,workday,adjusted\n")
    assert main(["holidays", "load", str(good)]) == 0
    assert "loaded 2027: 1 holidays, 1 adjusted working days" in capsys.readouterr().out
    assert main(["holidays", "list"]) == 0
    assert "2027-02-07 workday adjusted" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-01-01,vacation\n")
    assert main(["holidays", "load", str(bad)]) == 1
    assert "line 1: kind is 'holiday' or 'workday'" in capsys.readouterr().err


def test_overdue_marks_a_provisional_due_time_until_the_notice_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from broker.tracker.clock import SystemClock

    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    monkeypatch.setenv("RB_TRACKER_DATABASE_URL", url)
    desk = Desk()
    at = datetime(2026, 12, 20, 10, tzinfo=BEIJING)
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], at, "CLI-9")
    store = TrackerStore(url)
    store.ingest([request], at)
    store.close()
    monkeypatch.setattr(SystemClock, "now", lambda self: datetime(2027, 1, 13, tzinfo=BEIJING))
    assert main(["overdue", "--bureau", "bureau:330600"]) == 0
    out = capsys.readouterr().out
    assert "2027-01-12 00:00 CST PROVISIONAL" in out and "holidays load" in out
    assert main(["overdue", "--json"]) == 0
    marks = {(o["what"], o["provisional"]) for o in json.loads(capsys.readouterr().out)}
    assert marks == {("receipt", False), ("assistance_reply", True)}
    notice = tmp_path / "2027.csv"
    notice.write_text("date,kind,name\n2027-01-01,holiday,New Year\n2027-01-11,holiday,example\n")
    assert main(["holidays", "load", str(notice)]) == 0
    assert "1 open obligations got a new due time" in capsys.readouterr().out
    assert main(["overdue", "--bureau", "bureau:330600"]) == 0
    out = capsys.readouterr().out
    assert "2027-01-13 00:00 CST" in out and "PROVISIONAL" not in out  # 01-11 off: one day later


def test_holidays_list_says_which_coming_year_is_provisional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from broker.tracker.clock import SystemClock

    monkeypatch.setenv("RB_TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    monkeypatch.setattr(SystemClock, "now", lambda self: datetime(2026, 12, 1, tzinfo=BEIJING))
    assert main(["holidays", "list"]) == 0
    out = capsys.readouterr().out
    assert "2027: no holiday notice loaded" in out and "PROVISIONAL" in out and "2026:" not in out
    notice = tmp_path / "2027.csv"
    notice.write_text("2027-01-01,holiday,New Year\n")
    assert main(["holidays", "load", str(notice)]) == 0
    assert main(["holidays", "list"]) == 0
    assert "2027: no holiday notice loaded" not in capsys.readouterr().out
