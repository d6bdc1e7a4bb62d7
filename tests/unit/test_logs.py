"""The log scrubber, the second line of defence: what it masks, and that it leaves UUIDs whole."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import pytest
import structlog
from hypothesis import example, given, settings
from hypothesis import strategies as st

from broker import logs
from broker.logs import REDACTED, scrub_text
from tests.support.personal_numbers import card_number, id_number

ID18 = id_number("33068119900101123")
ID18_X = id_number("11010519491231002")
CARD16 = card_number("622202123456789")
CARD19 = card_number("622848001234567890")

MASKED = [
    ID18,
    ID18_X,
    "330681900101123",  # 15-digit ID (before 1999): area, YYMMDD, sequence
    f"ID{ID18}",  # glued to letters
    f"身份证{ID18}号",
    "身份证330681900101123号",
    CARD16,
    CARD19,
    " ".join(CARD16[i : i + 4] for i in range(0, 16, 4)),
    "0575-87012345",
    "057587012345",
    "010-65123456",
    "(010)65123456",
    "+86 10 6512 3456",
    "0575 8701 2345",
    "13912345678",
    "+86 138 0013 8000",
    "tel13912345678",
    "zhang.wei@example.cn",
]


@pytest.mark.parametrize("personal", MASKED)
def test_personal_data_is_masked(personal: str) -> None:
    text = scrub_text(f"reason: {personal} here")
    assert REDACTED in text
    digits = "".join(c for c in personal if c.isdigit())
    assert not digits or digits[-8:] not in text.replace(" ", "").replace("-", ""), text


@pytest.mark.parametrize(
    "harmless",
    [
        card_number("622202123456789")[:-1] + str((int(CARD16[-1]) + 1) % 10),  # fails the Luhn check
        "latency 1234.5 ms, batch 32",
        "2019-06-03T09:30:00+08:00",
        "envelope.case.records.0.provided",
        "ZJSX-2019-0042",
        "bureau:330681",
        "91330681MA29FT8L2C",
    ],
)
def test_other_text_is_left_alone(harmless: str) -> None:
    assert scrub_text(harmless) == harmless


@given(st.uuids(), st.sampled_from(["{}", "message {} quarantined", "{}/reply/bureau:440000", "id={};"]))
@example(uuid.UUID("5eeda138-1234-4567-8000-000000000000"), "{}")  # was masked as a mobile number
@example(uuid.UUID("00000000-0000-4000-8000-a13912345678"), "{}")  # an 11-digit run in the last group
def test_uuids_are_never_mangled(value: uuid.UUID, template: str) -> None:
    for text in (str(value), str(value).upper()):
        assert scrub_text(template.format(text)) == template.format(text)


def test_a_phone_number_next_to_a_uuid_is_still_masked() -> None:
    text = scrub_text(f"{uuid.UUID(int=1)} 13912345678")
    assert text == f"{uuid.UUID(int=1)} {REDACTED}"


def test_a_uuid_with_digits_glued_on_is_not_a_uuid() -> None:
    assert "13912345678" not in scrub_text("13912345678-1234-4567-8000-000000000000")


def test_the_processor_masks_every_value_of_a_log_line() -> None:
    stream = io.StringIO()
    logs.configure(stream=stream)
    try:
        structlog.get_logger("test").info("quarantined", reason=f"bad {ID18}", nested={"x": [CARD19]})
    finally:
        logs.configure()
    line = json.loads(stream.getvalue())
    assert ID18 not in stream.getvalue() and CARD19 not in stream.getvalue()
    assert line["reason"] == f"bad {REDACTED}" and line["nested"] == {"x": [REDACTED]}


def test_scrubbing_stays_linear_on_long_runs() -> None:
    for text in ("1" * 100_000, "a" * 100_000, "1 " * 50_000, "a@" * 50_000):
        started = time.perf_counter()
        scrub_text(text)
        assert time.perf_counter() - started < 0.5, text[:10]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_what_any_pattern_masks_passes_the_quick_check(data: Any) -> None:
    """_mask skips a text the quick check says no pattern can match: every text a pattern matches
    passes it (drawn from the patterns themselves, and embedded in other text)."""
    from broker.logs import _CARD, _PERSONAL, _could_match

    pattern = data.draw(st.sampled_from([*_PERSONAL, _CARD]))
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    match = pattern.search(text)
    assert match is not None
    assert _could_match(match.group())
    assert _could_match(data.draw(st.text(max_size=20)) + text + data.draw(st.text(max_size=20)))


def test_full_width_digits_are_counted_as_the_patterns_count_them() -> None:
    # \d matches any Unicode decimal digit, so a card number written in full-width digits is masked,
    # and the quick check must count those digits too
    wide = card_number("622848004000000").translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
    assert scrub_text(f"card {wide}") == f"card {REDACTED}"


_LINE_PIECE = st.text(
    alphabet=st.sampled_from([*"0123456789", "\uff11", "\u0663", *' -()@.+x"\\\n', "\x01"]), max_size=20
)
_LINE_TEXT = (
    _LINE_PIECE
    | st.uuids().map(str)
    | st.tuples(_LINE_PIECE, st.sampled_from(MASKED), _LINE_PIECE).map("".join)
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(["reason", "case_id", "a", "b"]), _LINE_TEXT | st.lists(_LINE_TEXT)))
def test_a_line_checked_whole_is_what_its_values_scrubbed_one_by_one_give(values: dict[str, Any]) -> None:
    """render_scrubbed writes a line unscrubbed only when the whole line cannot hold a pattern: the
    result is the line rendered from values scrubbed one by one, whatever the values are (digits of
    other scripts, separators, quotes and control characters that JSON escapes, UUIDs)."""
    from broker.logs import _dumps, render_scrubbed, scrub_personal_data

    expected = _dumps(scrub_personal_data(None, "info", dict(values)))
    assert render_scrubbed(None, "info", dict(values)) == expected


def test_a_line_with_nothing_to_mask_is_rendered_once_as_json() -> None:
    from broker.logs import render_scrubbed

    event = {"event": "routed", "message_id": str(uuid.UUID(int=2**127 + 1234567890123)), "batch": 255}
    line = render_scrubbed(None, "info", dict(event))
    assert json.loads(line) == event
    reason = f"{event['message_id']} 13912345678"
    masked = json.loads(render_scrubbed(None, "info", {**event, "reason": reason}))
    assert masked["reason"] == f"{event['message_id']} {REDACTED}"


def test_values_orjson_refuses_are_still_written_and_scrubbed() -> None:
    from broker.logs import render_scrubbed

    event = {"event": "x", "count": 2**70, "text": "\ud800 13912345678"}
    line = json.loads(render_scrubbed(None, "info", dict(event)))
    assert line["count"] == 2**70 and line["text"] == f"\ud800 {REDACTED}"


def test_a_line_orjson_refuses_is_scrubbed_before_it_is_escaped() -> None:
    from broker.logs import render_scrubbed

    wide = CARD16.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})  # full-width digits
    line = render_scrubbed(None, "info", {"event": "x", "count": 2**70, "text": f"card {wide}"})
    assert json.loads(line)["text"] == f"card {REDACTED}" and line.isascii()


def _full_width(text: str) -> str:
    return text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})  # ASCII to its full-width form


@pytest.mark.parametrize("personal", ["13912345678", "+86 138 0013 8000", "0575-87012345", ID18, ID18_X])
def test_numbers_typed_in_full_width_are_masked_too(personal: str) -> None:
    wide = _full_width(personal)
    assert wide != personal and not wide.isascii()
    text = scrub_text(f"电话：{wide}。")
    assert REDACTED in text, text
    assert not any(c.isdecimal() for c in text.replace(REDACTED, "")), text
