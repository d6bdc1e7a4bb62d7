"""Who designates when a bureau disputes the jurisdiction of a case it received by transfer (SAMR
administrative penalty procedure rules, Art. 14: 受移送的市场监督管理部门对管辖权有异议的，应当报请
共同的上一级市场监督管理部门指定管辖，不得再自行移送): the common superior of the transferor and the
transferee, the two parties of the dispute, not of the transferee and the bureau it would pass the
case to (issue 15)."""

from __future__ import annotations

from datetime import datetime

from broker.domain.jurisdictions import NATIONAL, default_registry
from broker.domain.messages import Kind
from broker.domain.routing import Rule
from broker.tools.records import PARTICIPANTS, Desk
from broker.tracker.calendar import BEIJING

AT = datetime(2024, 9, 2, 10, tzinfo=BEIJING)


def test_the_designating_superior_is_the_lowest_bureau_above_both_parties() -> None:
    registry = default_registry()
    assert registry.designating_superior("330681", "330602") == "330600"  # two of Shaoxing: the city
    assert registry.designating_superior("330681", "330106") == "330000"  # two cities: Zhejiang
    assert registry.designating_superior("330681", "440300") == NATIONAL  # two provinces: SAMR
    # a party does not designate in its own dispute: a county and its own city go to the province
    assert registry.designating_superior("330681", "330600") == "330000"
    assert registry.designating_superior("330000", NATIONAL) == NATIONAL


def _disputed(
    desk: Desk, transferor: str, transferee: str, onward: str, forward_hub: str | None = None
) -> set[str]:
    first = desk.send(Kind.CASE_TRANSFER, transferor, [transferee], AT, "T-1")
    if forward_hub is not None:
        desk.forward(first, forward_hub, [transferee], AT)
    again = desk.send(Kind.CASE_TRANSFER, transferee, [onward], AT, "T-1")
    return {str(d.to) for d in again.deliveries if d.rule is Rule.NO_RETRANSFER}


def test_same_city_the_city_designates_whatever_the_bureau_named_next() -> None:
    # before: Zhejiang, where 330602 and the Hangzhou bureau it named meet
    assert _disputed(Desk(), "bureau:330681", "bureau:330602", "bureau:330100") == {"bureau:330600"}


def test_two_cities_of_one_province_the_province_designates() -> None:
    # before: Hangzhou (330106 and 330100 meet there), which is no party to the dispute
    desk = Desk((*PARTICIPANTS, "bureau:330106"))
    assert _disputed(desk, "bureau:330681", "bureau:330106", "bureau:330100") == {"bureau:330000"}


def test_two_provinces_the_national_bureau_designates() -> None:
    # the Guangdong hub forwarded Zhuji's transfer to Shenzhen; before: Guangdong, where Shenzhen and
    # Guangzhou meet
    desk = Desk()
    disputed = _disputed(desk, "bureau:330681", "bureau:440300", "bureau:440100", forward_hub="bureau:440000")
    assert disputed == {"bureau:000000"}
