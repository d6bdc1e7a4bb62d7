"""The procuratorate's supervision copy of a police referral is required (2006 opinions on the timely
transfer of suspected crimes; Decree 310 Art. 14), so a production deployment cannot switch it off:
the router has no option for it and no handling code suppresses it (issue 15)."""

from __future__ import annotations

import inspect
from datetime import datetime

import pytest

from broker.cli.main import build_parser
from broker.domain.messages import Kind
from broker.domain.routing import RoutingContext, Rule
from broker.router.service import Router
from broker.sealing.recipients import recipients_of
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker.calendar import BEIJING


def test_route_has_no_option_to_drop_the_procuratorate_copy(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["route", "--no-procuratorate-copy"])
    assert stopped.value.code == 2
    assert "--no-procuratorate-copy" in capsys.readouterr().err  # argparse: unrecognized arguments


def test_no_layer_takes_a_switch_for_it() -> None:
    assert "copy_referrals_to_procuratorate" not in RoutingContext.__dataclass_fields__
    assert "copy_referrals_to_procuratorate" not in inspect.signature(Router).parameters
    assert "copy_referrals_to_procuratorate" not in inspect.signature(recipients_of).parameters


def test_no_onward_dissemination_does_not_suppress_the_copy() -> None:
    referral = Desk().send(
        Kind.POLICE_REFERRAL,
        "bureau:330681",
        [],
        datetime(2024, 9, 2, 10, tzinfo=BEIJING),
        facts=OVER_THRESHOLD,
        handling=["no_onward_dissemination"],
    )
    assert {(str(d.to), d.rule) for d in referral.deliveries} == {
        ("police:330681", Rule.POLICE_REFERRAL),
        ("procuratorate:330681", Rule.SUPERVISION_COPY),
    }
