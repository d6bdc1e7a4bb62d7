"""The agreement corpus: message variants with the verdict the contract gives them, for every
validator to be run against (the router's parse_message, JSON Schema in Python and in ajv).

Variants are made from the examples by one change each, so every kind gets its generic variants
without being named here (a new kind in MESSAGE_TYPES gets them from its example), plus one
invalid variant per field rule. The expected verdict is written beside each change, never
computed by a validator. ``beyond_schema`` names a rule of ``contract_schema.BEYOND_SCHEMA``: the
router refuses the variant, and JSON Schema cannot (it is expected to accept it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from broker.domain.kinds import FORWARDABLE
from broker.domain.messages import MESSAGE_TYPES, Kind
from broker.domain.validation import MAX_MESSAGE_BYTES
from broker.domain.versions import READ_VERSIONS, body_fields_after, case_fields_after, kinds_of
from broker.tools.contract.examples import example_messages

Data = dict[str, Any]
OTHER_ID = "5eed0000-0000-4000-8000-00000000ffff"

_VALID_AS_NOTICE = frozenset({Kind.CASE_NOTICE, Kind.ASSESSMENT_REQUEST})
"""Kinds whose example would also be a valid case_notice (case facts, a body a notice takes): their
kind_mismatch variant names receipt_ack instead, which needs in_reply_to."""


@dataclass(frozen=True)
class Variant:
    name: str
    valid: bool
    field: str | None
    """For an invalid variant: the field the router's first error names (None: it depends on the
    other kind's rules)."""
    description: str
    message: Data | None = None
    raw: str | None = None
    """Instead of ``message``: the exact text, for what parsing itself decides."""
    beyond_schema: str | None = None

    def as_json(self) -> Data:
        item: Data = {
            "name": self.name,
            "description": self.description,
            "expect": "valid" if self.valid else "invalid",
        }
        if self.field is not None:
            item["field"] = self.field
        if self.beyond_schema is not None:
            item["beyond_schema"] = self.beyond_schema
        if self.raw is not None:
            item["raw"] = self.raw
        else:
            item["message"] = self.message
        return item


def examples() -> dict[Kind, Data]:
    return {m.envelope.kind: m.model_dump(mode="json", exclude_none=True) for m in example_messages()}


def _changed(data: Data, change: Callable[[Data], object]) -> Data:
    out = copy.deepcopy(data)
    change(out)
    return out


def _set(path: str, value: Any) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _drop(path: str) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[part]
        del node[last]

    return apply


def kind_variants(kind: Kind, example: Data) -> list[Variant]:
    """The variants every kind gets: its example, and its envelope rules one by one."""
    model = MESSAGE_TYPES[kind]
    k = kind.value
    out = [
        Variant(f"{k}.example", True, None, "the example as exported", example),
        Variant(
            f"{k}.unknown_body_field",
            False,
            f"body.<key #{len(example['body']) + 1}>",
            "a body key outside the contract",
            _changed(example, _set("body.extra", 1)),
        ),
        Variant(
            f"{k}.kind_mismatch",
            False,
            None,
            "the envelope names another kind: the message is read as that kind and fails its rules",
            _changed(
                example,
                _set("envelope.kind", "receipt_ack" if kind in _VALID_AS_NOTICE else "case_notice"),
            ),
        ),
    ]
    if model.IS_REPLY:
        out.append(
            Variant(
                f"{k}.no_in_reply_to",
                False,
                "envelope.in_reply_to",
                "a reply that names nothing",
                _changed(example, _drop("envelope.in_reply_to")),
            )
        )
        out.append(
            Variant(
                f"{k}.in_reply_to_null",
                False,
                "envelope.in_reply_to",
                "a reply with in_reply_to null",
                _changed(example, _set("envelope.in_reply_to", None)),
            )
        )
    else:
        out.append(
            Variant(
                f"{k}.in_reply_to_null",
                True,
                None,
                "null is the same as leaving it out",
                _changed(example, _set("envelope.in_reply_to", None)),
            )
        )
        out.append(
            Variant(
                f"{k}.in_reply_to_given",
                False,
                "envelope.in_reply_to",
                "a kind that answers nothing",
                _changed(example, _set("envelope.in_reply_to", OTHER_ID)),
            )
        )
    if model.CASE_FACTS == "required":
        out.append(
            Variant(
                f"{k}.case_missing",
                False,
                "envelope.case",
                "case facts left out",
                _changed(example, _drop("envelope.case")),
            )
        )
        out.append(
            Variant(
                f"{k}.case_null",
                False,
                "envelope.case",
                "case facts null",
                _changed(example, _set("envelope.case", None)),
            )
        )
    elif model.CASE_FACTS == "forbidden":
        facts = examples()[Kind.CASE_NOTICE]["envelope"]["case"]
        out.append(
            Variant(
                f"{k}.case_given",
                False,
                "envelope.case",
                "case facts on a kind without them",
                _changed(example, _set("envelope.case", facts)),
            )
        )
        out.append(
            Variant(
                f"{k}.case_null",
                True,
                None,
                "null is the same as leaving it out",
                _changed(example, _set("envelope.case", None)),
            )
        )
    if kind in FORWARDABLE:
        out.append(
            Variant(
                f"{k}.forwards",
                True,
                None,
                "a forwardable kind naming what it forwards",
                _changed(example, _set("envelope.forwards", OTHER_ID)),
            )
        )
    else:
        out.append(
            Variant(
                f"{k}.forwards",
                False,
                "envelope.forwards",
                "a kind that cannot be forwarded",
                _changed(example, _set("envelope.forwards", OTHER_ID)),
            )
        )
    if kind is not Kind.DIRECTIVE:
        out.append(
            Variant(
                f"{k}.scope_all_subordinates",
                False,
                "envelope.scope",
                "only directives use it",
                _changed(example, lambda d: d["envelope"].update(scope="all_subordinates", to=[])),
            )
        )
    return out


def field_variants(notice: Data, by_kind: dict[Kind, Data]) -> list[Variant]:
    """One invalid variant per field rule (and the valid edge next to some of them)."""

    def v(
        name: str,
        valid: bool,
        field: str | None,
        description: str,
        change: Callable[[Data], object],
        base: Data | None = None,
        beyond: str | None = None,
    ) -> Variant:
        return Variant(
            name, valid, field, description, _changed(base or notice, change), beyond_schema=beyond
        )

    case = "envelope.case"
    out = [
        v(
            "message.unknown_top_level_key",
            False,
            "<key #3>",
            "a key beside envelope and body",
            _set("extra", 1),
        ),
        v("message.body_missing", False, "body", "no body", _drop("body")),
        v(
            "envelope.message_id.not_uuid",
            False,
            "envelope.message_id",
            "not a UUID",
            _set("envelope.message_id", "42"),
        ),
        v(
            "envelope.message_id.missing",
            False,
            "envelope.message_id",
            "left out",
            _drop("envelope.message_id"),
        ),
        v("envelope.kind.unknown", False, "envelope.kind", "not a kind", _set("envelope.kind", "gossip")),
        v(
            "envelope.schema_version.retired",
            False,
            "envelope.schema_version",
            "1.0 is no longer read",
            _set("envelope.schema_version", "1.0"),
        ),
        v(
            "envelope.schema_version.unknown",
            False,
            "envelope.schema_version",
            "a version not read",
            _set("envelope.schema_version", "3.0"),
        ),
        v(
            "envelope.sender.shape",
            False,
            "envelope.sender",
            "not party:code",
            _set("envelope.sender", "bureau-330681"),
        ),
        v(
            "envelope.sender.unknown_party",
            False,
            "envelope.sender",
            "no such party",
            _set("envelope.sender", "army:330681"),
        ),
        v(
            "envelope.sender.retired_code",
            False,
            "envelope.sender",
            "330682 (上虞市) was retired",
            _set("envelope.sender", "bureau:330682"),
        ),
        v(
            "envelope.sender.unknown_code",
            False,
            "envelope.sender",
            "not a division code",
            _set("envelope.sender", "bureau:339999"),
        ),
        v(
            "envelope.sender.system_elsewhere",
            False,
            "envelope.sender",
            "the system address is system:000000",
            _set("envelope.sender", "system:330000"),
        ),
        v(
            "envelope.sender.national",
            True,
            None,
            "000000 is the national level (SAMR)",
            _set("envelope.sender", "bureau:000000"),
        ),
        v(
            "envelope.to.duplicate",
            False,
            "envelope.to",
            "the same addressee twice",
            _set("envelope.to", ["bureau:330600", "bureau:330600"]),
        ),
        v(
            "envelope.to.retired_code",
            False,
            "envelope.to.0",
            "a retired addressee",
            _set("envelope.to", ["bureau:330682"]),
        ),
        v(
            "envelope.to.too_many",
            False,
            "envelope.to",
            "more than 50 addressees",
            _set("envelope.to", [f"bureau:{c}" for c in _codes(51)]),
        ),
        v(
            "envelope.scope.unknown",
            False,
            "envelope.scope",
            "not a scope",
            _set("envelope.scope", "everyone"),
        ),
        v(
            "envelope.case_id.phone",
            False,
            "envelope.case_id",
            "a mobile number",
            _set("envelope.case_id", "13800000000"),
        ),
        v(
            "envelope.case_id.lower_case",
            False,
            "envelope.case_id",
            "lower-case letters",
            _set("envelope.case_id", "zj-2019-42"),
        ),
        v("envelope.case_id.missing", False, "envelope.case_id", "left out", _drop("envelope.case_id")),
        v("envelope.case_id.short", True, None, "letters and a serial", _set("envelope.case_id", "SX-17")),
        v(
            "envelope.causation_id.not_uuid",
            False,
            "envelope.causation_id",
            "not a UUID",
            _set("envelope.causation_id", "yesterday"),
        ),
        v(
            "envelope.sent_at.no_offset",
            False,
            "envelope.sent_at",
            "a time without its UTC offset",
            _set("envelope.sent_at", "2019-06-03T09:30:00"),
        ),
        v(
            "envelope.sent_at.not_a_time",
            False,
            "envelope.sent_at",
            "not a time",
            _set("envelope.sent_at", "Monday"),
        ),
        v(
            "envelope.sent_at.utc",
            True,
            None,
            "Z is an offset",
            _set("envelope.sent_at", "2019-06-03T01:30:00Z"),
        ),
        v(
            "envelope.handling.duplicate",
            False,
            "envelope.handling",
            "the same restriction twice",
            _set("envelope.handling", ["not_for_court", "not_for_court"]),
        ),
        v(
            "envelope.handling.unknown",
            False,
            "envelope.handling.0",
            "not a handling code",
            _set("envelope.handling", ["secret"]),
        ),
        v(
            "case.credit_code.check_character",
            False,
            f"{case}.company_credit_code",
            "the final check character is wrong",
            _set(f"{case}.company_credit_code", "91330681MA29FT8L2D"),
            beyond="credit_code_check",
        ),
        v(
            "case.credit_code.length",
            False,
            f"{case}.company_credit_code",
            "17 characters",
            _set(f"{case}.company_credit_code", "91330681MA29FT8L2"),
        ),
        v(
            "case.credit_code.alphabet",
            False,
            f"{case}.company_credit_code",
            "a letter outside GB 32100 (O)",
            _set(f"{case}.company_credit_code", "91330681MA29FT8LOC"),
        ),
        v(
            "case.credit_code.lower_case",
            True,
            None,
            "lower case is read as upper case",
            _set(f"{case}.company_credit_code", "91330681ma29ft8l2c"),
        ),
        v("case.sector.unknown", False, f"{case}.sector", "not a sector", _set(f"{case}.sector", "mining")),
        v(
            "case.violations.empty",
            False,
            f"{case}.violations",
            "no violation",
            _set(f"{case}.violations", []),
        ),
        v(
            "case.violations.unknown",
            False,
            f"{case}.violations.0",
            "not a violation",
            _set(f"{case}.violations", ["rudeness"]),
        ),
        v(
            "case.records.duplicate_category",
            False,
            f"{case}.records",
            "one category counted twice",
            _set(f"{case}.records", [{"category": "other", "provided": 1}, {"category": "other", "held": 2}]),
        ),
        v(
            "case.records.negative",
            False,
            f"{case}.records.0.provided",
            "a negative count",
            _set(f"{case}.records.0.provided", -1),
        ),
        v(
            "case.records.eleven_digits",
            False,
            f"{case}.records.0.provided",
            "a count with 11 digits (a mobile)",
            _set(f"{case}.records.0.provided", 13800000000),
        ),
        v(
            "case.records.unknown_category",
            False,
            f"{case}.records.0.category",
            "not a category",
            _set(f"{case}.records.0.category", "gossip"),
        ),
        v(
            "case.income.thousands_separator",
            False,
            f"{case}.illegal_income_cny",
            "1,200.00",
            _set(f"{case}.illegal_income_cny", "1,200.00"),
        ),
        v(
            "case.income.negative",
            False,
            f"{case}.illegal_income_cny",
            "a negative amount",
            _set(f"{case}.illegal_income_cny", "-5"),
        ),
        v(
            "case.income.eleven_digits",
            False,
            f"{case}.illegal_income_cny",
            "an amount of ten billion or more",
            _set(f"{case}.illegal_income_cny", "13800000000"),
        ),
        v(
            "case.income.three_decimals",
            False,
            f"{case}.illegal_income_cny",
            "three decimal places",
            _set(f"{case}.illegal_income_cny", "1200.001"),
        ),
        v(
            "case.income.number",
            True,
            None,
            "an amount as a JSON number",
            _set(f"{case}.illegal_income_cny", 1200.5),
        ),
        v(
            "case.income.number_three_decimals",
            False,
            f"{case}.illegal_income_cny",
            "a JSON number with three decimal places",
            _set(f"{case}.illegal_income_cny", 1200.125),
            beyond="amount_decimals",
        ),
        v(
            "case.profit.without_own_business",
            False,
            f"{case}.profit_from_use_cny",
            "Art. 6 profit on a case that is not about the party's own business",
            _set(f"{case}.profit_from_use_cny", "60000"),
        ),
        v(
            "case.profit.own_business",
            True,
            None,
            "Art. 6 profit with own_lawful_business",
            lambda d: d["envelope"]["case"].update(profit_from_use_cny="60000", own_lawful_business=True),
        ),
        v(
            "case.profit.zero",
            True,
            None,
            "no profit, written as 0.00",
            _set(f"{case}.profit_from_use_cny", "0.00"),
        ),
        v(
            "case.severe_harms.unknown",
            False,
            f"{case}.severe_harms.0",
            "not a harm",
            _set(f"{case}.severe_harms", ["embarrassment"]),
        ),
        v(
            "case.insider.not_boolean",
            False,
            f"{case}.insider",
            "null is not a boolean",
            _set(f"{case}.insider", None),
        ),
    ]
    out += loose_spellings(v)
    out += [
        v(
            "body.summary.too_long",
            False,
            "body.summary",
            "more than 20,000 characters",
            _set("body.summary", "x" * 20_001),
        ),
        v(
            "body.persons.role",
            False,
            "body.persons.0.role",
            "not a role",
            _set("body.persons.0.role", "bystander"),
        ),
        v(
            "body.persons.unknown_field",
            False,
            "body.persons.0.<key #5>",
            "a person key outside the contract",
            _set("body.persons.0.nickname", "x"),
        ),
        v(
            "body.evidence.reference_missing",
            False,
            "body.evidence.0.reference",
            "evidence without its reference",
            _set("body.evidence", [{"description": "photos"}]),
        ),
    ]
    kinds: list[tuple[Kind, str, bool, str | None, str, Callable[[Data], object]]] = [
        *LOOSE_BY_KIND,
        (
            Kind.ASSISTANCE_REQUEST,
            "questions_empty",
            False,
            "body.questions",
            "nothing asked",
            _set("body.questions", []),
        ),
        (
            Kind.EXTENSION_REQUEST,
            "days_zero",
            False,
            "body.extra_working_days",
            "no days",
            _set("body.extra_working_days", 0),
        ),
        (
            Kind.EXTENSION_REQUEST,
            "days_61",
            False,
            "body.extra_working_days",
            "more than 60 days",
            _set("body.extra_working_days", 61),
        ),
        (
            Kind.EXTENSION_DECISION,
            "granted_no_days",
            False,
            "body.extra_working_days",
            "granted, 0 days",
            lambda d: d["body"].update(granted=True, extra_working_days=0),
        ),
        (
            Kind.EXTENSION_DECISION,
            "refused_no_days",
            True,
            None,
            "refused, 0 days",
            lambda d: d["body"].update(granted=False, extra_working_days=0),
        ),
        (
            Kind.FILING_DECISION,
            "not_filed_no_reasons",
            False,
            "body.reasons",
            "not filed, no reasons",
            lambda d: d["body"].update(decision="not_filed", reasons=" "),
        ),
        (
            Kind.RECONSIDERATION_DECISION,
            "not_filed_no_reasons",
            False,
            "body.reasons",
            "still not filed, no reasons",
            lambda d: d["body"].update(decision="not_filed", reasons=" "),
        ),
        (
            Kind.DIRECTIVE,
            "all_subordinates_with_to",
            False,
            "envelope.to",
            "scope all_subordinates takes no addressees",
            _set("envelope.to", ["bureau:330600"]),
        ),
        (
            Kind.DIRECTIVE,
            "addressed",
            True,
            None,
            "a directive to named bureaus",
            lambda d: d["envelope"].update(scope="addressed", to=["bureau:330600"]),
        ),
        (
            Kind.DIRECTIVE,
            "type_unknown",
            False,
            "body.directive_type",
            "neither directive nor guidance",
            _set("body.directive_type", "order"),
        ),
        (
            Kind.COORDINATION_REQUEST,
            "action_unknown",
            False,
            "body.action",
            "not an action",
            _set("body.action", "raid"),
        ),
        (
            Kind.POLICE_REFERRAL,
            "level_unknown",
            False,
            "body.level",
            "not a level",
            _set("body.level", "grave"),
        ),
        (Kind.POLICE_REFERRAL, "clauses_empty", False, "body.clauses", "no clause", _set("body.clauses", [])),
        (
            Kind.DEADLINE_NOTICE,
            "notice_unknown",
            False,
            "body.notice",
            "not a notice",
            _set("body.notice", "nag"),
        ),
        (
            Kind.JURISDICTION_DESIGNATION,
            "designated_retired",
            False,
            "body.designated",
            "a retired bureau",
            _set("body.designated", "bureau:330682"),
        ),
        (
            Kind.ASSESSMENT_REQUEST,
            "body_summary",
            False,
            "body.summary",
            "the request carries nothing in its body",
            _set("body.summary", "x"),
        ),
        (
            Kind.ASSESSMENT_RESULT,
            "not_reached",
            True,
            None,
            "facts under the threshold: no clause",
            lambda d: d["body"].update(reached=False, level="not_reached", clauses=[]),
        ),
        (
            Kind.ASSESSMENT_RESULT,
            "level_unknown",
            False,
            "body.level",
            "not a level",
            _set("body.level", "grave"),
        ),
        (
            Kind.ASSESSMENT_RESULT,
            "article_unknown",
            False,
            "body.article",
            "not an article of the interpretation",
            _set("body.article", "art7"),
        ),
        (
            Kind.ASSESSMENT_RESULT,
            "clause_not_reached",
            False,
            "body.clauses.0.level",
            "a clause met is serious or especially serious",
            _set("body.clauses.0.level", "not_reached"),
        ),
        (
            Kind.ASSESSMENT_RESULT,
            "figure_object",
            False,
            "body.clauses.0.figures.threshold",
            "a figure is a count, a flag or text, not an object",
            _set("body.clauses.0.figures.threshold", {"value": 1}),
        ),
        (
            Kind.ASSESSMENT_RESULT,
            "figure_fraction",
            False,
            "body.clauses.0.figures.threshold",
            'a figure that is not a whole number is written as text ("49/50", "5000.00")',
            _set("body.clauses.0.figures.threshold", 0.5),
        ),
        (
            Kind.REFERRAL_LINKED,
            "three_bureaus",
            False,
            "body.bureaus",
            "more than two bureaus",
            _set("body.bureaus", ["bureau:330681", "bureau:330600", "bureau:330000"]),
        ),
    ]
    for kind, name, valid, field, description, change in kinds:
        if kind in by_kind:
            out.append(v(f"{kind.value}.{name}", valid, field, description, change, base=by_kind[kind]))
    return out


LOOSE_IDS = {
    "braced": ("braces around it", "{" + OTHER_ID + "}"),
    "urn": ("with the urn:uuid: prefix", "urn:uuid:" + OTHER_ID),
    "no_hyphens": ("32 hex digits without hyphens", OTHER_ID.replace("-", "")),
}
"""UUID spellings Python's UUID() reads and the contract's pattern refuses."""

LOOSE_TIMES = {
    "space_for_t": ("a space instead of T", "2019-06-03 09:30:00+08:00"),
    "lower_case_t": ("t instead of T", "2019-06-03t09:30:00+08:00"),
    "lower_case_z": ("z instead of Z", "2019-06-03T01:30:00z"),
    "no_seconds": ("hours and minutes only", "2019-06-03T09:30+08:00"),
    "offset_without_colon": ("+0800 for +08:00", "2019-06-03T09:30:00+0800"),
    "comma_fraction": ("a comma before the fraction", "2019-06-03T09:30:00,5+08:00"),
    "epoch_seconds": ("seconds since 1970 as a number", 1559525400),
    "epoch_text": ("seconds since 1970 as text", "1559525400"),
}
"""Date-time spellings pydantic's lax mode reads and the contract's RFC 3339 pattern refuses."""


def loose_spellings(v: Callable[..., Variant]) -> list[Variant]:
    """Values the schemas refuse that a lax parser would read: text for numbers and booleans, other
    spellings of UUIDs, times and amounts. Each is refused by the router too (broker/domain/strict.py)."""
    case = "envelope.case"
    out = []
    for name, (description, text) in LOOSE_IDS.items():
        for field in ("envelope.message_id", "envelope.causation_id"):
            out.append(v(f"{field}.{name}", False, field, description, _set(field, text)))
    out.append(
        v(
            "envelope.message_id.upper_case",
            True,
            None,
            "upper-case hex digits are a UUID too",
            _set("envelope.message_id", OTHER_ID.upper()),
        )
    )
    for name, (description, value) in LOOSE_TIMES.items():
        out.append(
            v(
                f"envelope.sent_at.{name}",
                False,
                "envelope.sent_at",
                description,
                _set("envelope.sent_at", value),
            )
        )
    out.append(
        v(
            "envelope.sent_at.nanoseconds",
            True,
            None,
            "a fraction of up to nine digits",
            _set("envelope.sent_at", "2019-06-03T09:30:00.123456789+08:00"),
        )
    )
    count = f"{case}.records.0.provided"
    for name, description, value in (
        ("count_as_text", 'the count "12" as text', "12"),
        ("count_as_boolean", "true for a count", True),
        ("count_in_exponent_text", '"1e3" as text', "1e3"),
    ):
        out.append(v(f"case.records.{name}", False, count, description, _set(count, value)))
    out.append(
        v("case.records.count_integral_number", True, None, "12.0 is an integer in JSON", _set(count, 12.0))
    )
    out.append(v("case.records.count_in_exponent", True, None, "1e3 is the integer 1000", _set(count, 1e3)))
    insider = f"{case}.insider"
    for name, description, value in (
        ("yes", '"yes" for true', "yes"),
        ("one", "1 for true", 1),
        ("zero", "0 for false", 0),
        ("text_true", '"true" as text', "true"),
    ):
        out.append(v(f"case.insider.{name}", False, insider, description, _set(insider, value)))
    income = f"{case}.illegal_income_cny"
    for name, description, value in (
        ("exponent", '"1e3" for 1000', "1e3"),
        ("plus_sign", "a leading +", "+1200"),
        ("leading_zero", "a leading 0", "01200"),
        ("spaces", "spaces around the digits", " 1200 "),
        ("underscore", "a digit separator _", "1_200"),
        ("bare_point", "a point with no decimals", "1200."),
        ("boolean", "true for an amount", True),
    ):
        out.append(v(f"case.income.{name}", False, income, description, _set(income, value)))
    out.append(v("case.income.negative_zero", True, None, "-0.0 is the amount 0", _set(income, -0.0)))
    return out


LOOSE_BY_KIND: list[tuple[Kind, str, bool, str | None, str, Callable[[Data], object]]] = [
    (
        Kind.EXTENSION_REQUEST,
        "days_as_text",
        False,
        "body.extra_working_days",
        'the days "12" as text',
        _set("body.extra_working_days", "12"),
    ),
    (
        Kind.EXTENSION_DECISION,
        "granted_as_text",
        False,
        "body.granted",
        '"yes" for granted',
        _set("body.granted", "yes"),
    ),
    (
        Kind.ASSISTANCE_REPLY,
        "complete_as_number",
        False,
        "body.complete",
        "1 for complete",
        _set("body.complete", 1),
    ),
    (
        Kind.RECEIPT_ACK,
        "in_reply_to_braced",
        False,
        "envelope.in_reply_to",
        "the id it answers in braces",
        _set("envelope.in_reply_to", "{" + OTHER_ID + "}"),
    ),
    (
        Kind.POLICE_REFERRAL,
        "approved_at_space_for_t",
        False,
        "body.approved_at",
        "a space instead of T",
        _set("body.approved_at", "2019-06-03 09:30:00+08:00"),
    ),
    (
        Kind.DEADLINE_NOTICE,
        "regarding_no_hyphens",
        False,
        "body.regarding",
        "32 hex digits without hyphens",
        _set("body.regarding", OTHER_ID.replace("-", "")),
    ),
]
"""Loose spellings in body fields of particular kinds."""


def raw_variants(notice: Data) -> list[Variant]:
    """What the parser decides before any schema: repeated keys, size, nesting, not JSON."""
    text = json.dumps(notice, ensure_ascii=False)
    repeated = text.replace(
        '"sender": "bureau:330681"', '"sender": "bureau:330681", "sender": "bureau:330600"', 1
    )
    big = copy.deepcopy(notice)
    big["body"]["evidence"] = [{"reference": "R" * 500, "description": ""} for _ in range(600)]
    return [
        Variant(
            "raw.repeated_key",
            False,
            "envelope.sender",
            "sender given twice",
            raw=repeated,
            beyond_schema="repeated_key",
        ),
        Variant(
            "raw.too_large",
            False,
            "$",
            f"over {MAX_MESSAGE_BYTES} bytes, every field in bounds",
            raw=json.dumps(big, ensure_ascii=False),
            beyond_schema="size",
        ),
        Variant("raw.not_json", False, "$", "not JSON", raw=text[:-1]),
        Variant("raw.not_an_object", False, "$", "a JSON array", raw="[]"),
    ]


def version_variants(by_kind: dict[Kind, Data]) -> list[Variant]:
    """A message of an older version the broker reads: valid with what that version has, refused
    naming what a later one added (versions.py). Validators read each with its version's schemas."""
    out: list[Variant] = []
    for version in READ_VERSIONS[:-1]:
        v = version.replace(".", "_")

        def older(data: Data, version: str = version) -> Data:
            """The example as a message of `version`: what later versions added to its facts left out."""
            out = _changed(data, _set("envelope.schema_version", version))
            case = out["envelope"].get("case")
            for name in case_fields_after(version) & set(case or {}):
                del case[name]
            return out

        for kind in sorted(kinds_of(version) & {Kind.CASE_NOTICE, Kind.POLICE_REFERRAL, Kind.RECEIPT_ACK}):
            out.append(
                Variant(f"version.{v}.{kind.value}", True, None, f"a {version} message", older(by_kind[kind]))
            )
        for kind in sorted(set(by_kind) - kinds_of(version)):
            out.append(
                Variant(
                    f"version.{v}.{kind.value}",
                    False,
                    "envelope.kind",
                    f"a kind introduced after {version}",
                    older(by_kind[kind]),
                )
            )
        notice, referral = older(by_kind[Kind.CASE_NOTICE]), older(by_kind[Kind.POLICE_REFERRAL])
        for name in sorted(case_fields_after(version)):
            given = by_kind[Kind.CASE_NOTICE]["envelope"]["case"][name]
            out.append(
                Variant(
                    f"version.{v}.case.{name}",
                    False,
                    f"envelope.case.{name}",
                    f"a case fact added after {version}, even at its default",
                    _changed(notice, _set(f"envelope.case.{name}", given)),
                )
            )
        basis = {"offence": "other_offence", "citation": "刑法第二百八十七条之一", "reason": "r"}
        for name in sorted(body_fields_after(version, Kind.POLICE_REFERRAL)):
            out.append(
                Variant(
                    f"version.{v}.police_referral.{name}",
                    False,
                    f"body.{name}",
                    f"a referral field added after {version}",
                    _changed(referral, _set(f"body.{name}", basis)),
                )
            )
    current = READ_VERSIONS[-1].replace(".", "_")
    out.append(
        Variant(
            f"version.{current}.police_referral.legal_basis",
            True,
            None,
            "the same field in the version that has it",
            _changed(by_kind[Kind.POLICE_REFERRAL], _set("body.legal_basis", basis)),
        )
    )
    return out


def _codes(n: int) -> list[str]:
    from broker.domain.jurisdictions import default_registry

    return sorted(default_registry())[1 : n + 1]


def corpus() -> dict[str, list[Data]]:
    """File name -> items."""
    by_kind = examples()
    notice = by_kind[Kind.CASE_NOTICE]
    generic = [v for kind, ex in by_kind.items() for v in kind_variants(kind, ex)]
    return {
        "kinds.json": [v.as_json() for v in generic],
        "fields.json": [v.as_json() for v in field_variants(notice, by_kind)],
        "raw.json": [v.as_json() for v in raw_variants(notice)],
        "versions.json": [v.as_json() for v in version_variants(by_kind)],
    }
