"""The message contract, version 2.1: one envelope, one body model per message kind. 2.1 only added
kinds and optional fields to 2.0, so these models read both; versions.py says what 2.0 lacks.

The envelope carries what routing, deadlines and the criminal threshold need and never personal
data; the body carries what may (names, phone numbers, ID numbers, addresses, evidence).
Routers, trackers and logs read the envelope only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, SerializerFunctionWrapHandler, model_serializer, model_validator
from pydantic_core import PydanticCustomError

from broker.domain.address import AddressText
from broker.domain.case import CaseFacts, CaseId
from broker.domain.kinds import FORWARDABLE as FORWARDABLE  # re-exported: it was defined here
from broker.domain.kinds import KINDS, CaseFactsRule
from broker.domain.kinds import Kind as Kind  # re-exported: the kinds are part of the message contract
from broker.domain.strict import StrictModel, WireBool, WireInt, WireTime, WireUuid
from broker.domain.versions import READ_VERSIONS, body_fields_after, case_fields_after

SCHEMA_VERSION = "2.1"
"""The contract version this module describes and the broker writes; see README "Versioning" for how a
new one is added. 2.0 gave case_id a shape that cannot hold a phone, ID or card number (README,
"Migrating from 1.0"); 2.1 added kinds and optional fields (README, "Changes in 2.1")."""

assert READ_VERSIONS[-1] == SCHEMA_VERSION, "the version this module describes is the newest read"

MAX_TEXT = 20_000
"""Longest free text accepted in a body field, in characters."""


class Handling(StrEnum):
    """Handling restrictions, after Europol SIENA's handling codes."""

    NO_ONWARD_DISSEMINATION = "no_onward_dissemination"
    """H2: not to be passed to any third party without the sender's permission."""
    CRIME_PURPOSES_ONLY = "crime_purposes_only"
    """H0: to be used for criminal investigation purposes only."""
    NOT_FOR_COURT = "not_for_court"
    """H1: not to be used in court proceedings without the sender's permission."""


class Scope(StrEnum):
    ADDRESSED = "addressed"
    """Deliver to the addressees in ``to``."""
    ALL_SUBORDINATES = "all_subordinates"
    """Directives only: every provisioned bureau under the sender."""


class Envelope(StrictModel):
    """Everything the broker reads. No personal data goes here."""

    message_id: WireUuid = Field(description="Unique id chosen by the sender; duplicates are dropped.")
    kind: Kind
    schema_version: Literal["2.0", "2.1"] = Field(
        description="Contract version of this message (each version's schemas fix it to theirs)."
    )
    sender: AddressText
    to: list[AddressText] = Field(default_factory=list, max_length=50)
    scope: Scope = Scope.ADDRESSED
    case_id: CaseId
    in_reply_to: WireUuid | None = Field(
        default=None, description="The message this one answers (replies, acknowledgements, decisions)."
    )
    causation_id: WireUuid | None = Field(
        default=None, description="The message that caused this one, when it is not a reply."
    )
    forwards: WireUuid | None = Field(
        default=None,
        description="A provincial bureau forwarding a cross-province message to a bureau in its "
        "province names the message it forwards.",
    )
    sent_at: WireTime = Field(description="When the sender sent it, with a UTC offset.")
    handling: list[Handling] = Field(default_factory=list, max_length=len(Handling))
    case: CaseFacts | None = Field(default=None, description="Case facts, for case-bearing kinds.")

    @model_validator(mode="after")
    def _consistent(self) -> Envelope:
        if len(set(self.to)) != len(self.to):
            raise ValueError("to: names the same addressee twice")
        if self.scope is Scope.ALL_SUBORDINATES and self.to:
            raise ValueError("to: scope all_subordinates takes no addressees")
        if len(set(self.handling)) != len(self.handling):
            raise ValueError("handling: lists the same restriction twice")
        return self


# ---- bodies: what may hold personal data ----


class Person(StrictModel):
    """A natural person in a case (a victim, a suspect, a witness). Personal data."""

    role: Literal["suspect", "victim", "witness", "other"]
    name: str | None = Field(default=None, max_length=200)
    id_number: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)


class Evidence(StrictModel):
    reference: str = Field(max_length=500, description="Where the evidence is kept (file number, link).")
    description: str = Field(default="", max_length=MAX_TEXT)


class Body(StrictModel):
    summary: str = Field(default="", max_length=MAX_TEXT)
    persons: list[Person] = Field(default_factory=list, max_length=1000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=1000)


class CaseNoticeBody(Body):
    pass


class AssistanceRequestBody(Body):
    questions: list[str] = Field(
        min_length=1, max_length=100, description="What the other bureau is asked to find out or do."
    )


class AssistanceReplyBody(Body):
    findings: str = Field(max_length=MAX_TEXT)
    complete: WireBool = Field(description="True when the request is fully answered.")


class ExtensionRequestBody(Body):
    extra_working_days: WireInt = Field(ge=1, le=60)
    reason: str = Field(min_length=1, max_length=MAX_TEXT)


class ExtensionDecisionBody(Body):
    granted: WireBool
    extra_working_days: WireInt = Field(default=0, ge=0, le=60)

    @model_validator(mode="after")
    def _days_when_granted(self) -> ExtensionDecisionBody:
        if self.granted and self.extra_working_days == 0:
            raise ValueError("extra_working_days: a granted extension names how many days")
        return self


class EscalationBody(Body):
    reason: str = Field(min_length=1, max_length=MAX_TEXT)


class DirectiveBody(Body):
    directive_type: Literal["directive", "guidance"] = Field(
        description="督办 (directive) or 指导 (guidance)."
    )
    instructions: str = Field(min_length=1, max_length=MAX_TEXT)


class SupervisionReportBody(Body):
    results: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="What the supervised case came to (督办结果): the decision, penalty or transfer, and "
        "when it was made.",
    )


class CaseTransferBody(Body):
    reason: str = Field(
        min_length=1, max_length=MAX_TEXT, description="Why the receiving bureau is competent."
    )


class JurisdictionRequestBody(Body):
    reason: str = Field(
        min_length=1, max_length=MAX_TEXT, description="What the bureaus dispute, or why they ask."
    )


class JurisdictionDesignationBody(Body):
    designated: AddressText = Field(description="The bureau that will handle the case.")


class CoordinationRequestBody(Body):
    action: Literal["information", "joint_action", "takedown", "other"]
    request: str = Field(min_length=1, max_length=MAX_TEXT)


class CoordinationReplyBody(Body):
    answer: str = Field(min_length=1, max_length=MAX_TEXT)


class ClauseFinding(StrictModel):
    clause: str = Field(max_length=40)
    title: str = Field(max_length=500)
    figures: dict[str, str] = Field(default_factory=dict)


class LegalBasis(StrictModel):
    """The bureau head's legal basis for a transfer, when it is not (only) the evaluator's reading of
    Art. 5: Art. 6 of 法释〔2017〕10号, a human judgement, or another offence altogether."""

    offence: Literal["infringing_personal_information", "other_offence"] = Field(
        description="侵犯公民个人信息罪 (刑法第二百五十三条之一), or another offence."
    )
    citation: str = Field(
        min_length=1, max_length=500, description="The provision relied on (article, interpretation)."
    )
    reason: str = Field(min_length=1, max_length=MAX_TEXT, description="Why the head relies on it.")


class PoliceReferralBody(Body):
    approved_by: str = Field(
        min_length=1, max_length=200, description="The bureau head who approved the transfer."
    )
    approved_at: WireTime
    threshold_version: str = Field(max_length=100)
    level: Literal["serious", "especially_serious"] = Field(
        description="The head's reading; the broker's evaluator advises and never overrules it."
    )
    clauses: list[ClauseFinding] = Field(min_length=1, description="The clauses the head relies on.")
    explanation: str = Field(max_length=MAX_TEXT)
    legal_basis: LegalBasis | None = Field(
        default=None,
        description="The head's own basis where it differs from the evaluator's assessment; required "
        "for a referral the evaluator finds under the Art. 5 threshold.",
    )


class PoliceReceiptBody(Body):
    received_at: WireTime


class FilingDecisionBody(Body):
    decision: Literal["filed", "not_filed"]
    reasons: str = Field(default="", max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _reasons_when_not_filed(self) -> FilingDecisionBody:
        if self.decision == "not_filed" and not self.reasons.strip():
            raise ValueError("reasons: a decision not to file must give reasons")
        return self


class FileReturnBody(Body):
    returned_items: list[str] = Field(default_factory=list, max_length=1000)


class ReconsiderationRequestBody(Body):
    reason: str = Field(min_length=1, max_length=MAX_TEXT)


class AdministrativeInterviewBody(Body):
    """约谈: the bureau summoned the company's responsible persons (3,536 in the 2019 campaign)."""

    held_at: WireTime
    outcome: str = Field(min_length=1, max_length=MAX_TEXT, description="What the company undertook.")


class JointActionBody(Body):
    """联合执法: an enforcement action with other departments (4,225 in 2019), with its results."""

    held_at: WireTime
    departments: list[AddressText] = Field(
        min_length=1,
        max_length=20,
        description="The department offices that took part, at the bureau's level.",
    )
    results: str = Field(min_length=1, max_length=MAX_TEXT)


class TransferDeclinedBody(Body):
    """不批准移送: the head decided not to transfer; the reasons are recorded (记录在案)."""

    decided_by: str = Field(min_length=1, max_length=200, description="The bureau head who decided.")
    decided_at: WireTime
    reasons: str = Field(min_length=1, max_length=MAX_TEXT, description="Why the case is not transferred.")


class ReconsiderationDecisionBody(Body):
    decision: Literal["filed", "not_filed"] = Field(description="The police's decision on reconsideration.")
    reasons: str = Field(default="", max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _reasons_when_not_filed(self) -> ReconsiderationDecisionBody:
        if self.decision == "not_filed" and not self.reasons.strip():
            raise ValueError("reasons: a decision to keep not filing must give reasons")
        return self


class SupervisionSuggestionBody(Body):
    reason: str = Field(
        min_length=1, max_length=MAX_TEXT, description="Why the bureau thinks the case should be filed."
    )


class AckBody(Body):
    pass


class DeadlineNoticeBody(StrictModel):
    """What the tracker says about one obligation. Names offices and times, never people."""

    notice: Literal["reminder", "escalation", "overdue"] = Field(
        description="reminder: to the addressee before the due time; escalation: to the addressee's "
        "superior once it passed; overdue: to the sender once it passed."
    )
    obligation_id: str = Field(max_length=100)
    obligation: str = Field(max_length=60, description="What is owed: receipt, reply, decision, ...")
    regarding: WireUuid = Field(description="The message the obligation arises from.")
    owed_by: AddressText
    owed_to: AddressText
    due_at: WireTime
    basis: str = Field(max_length=500, description="The rule and its legal basis.")


# ---- messages: envelope + body, with the rules of each kind ----


class Message(StrictModel):
    """Base of every message kind. Subclasses fix KIND and the body model."""

    KIND: ClassVar[Kind]
    IS_REPLY: ClassVar[bool] = False
    """Replies, acknowledgements and decisions must name what they answer (from KINDS)."""
    CASE_FACTS: ClassVar[CaseFactsRule] = "forbidden"
    """From KINDS."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        facts = KINDS[cls.KIND]
        cls.IS_REPLY = facts.is_reply
        cls.CASE_FACTS = facts.case_facts

    envelope: Envelope
    body: Any

    @model_validator(mode="after")
    def _kind_rules(self) -> Message:
        env = self.envelope
        if env.kind is not self.KIND:
            raise ValueError(f"envelope.kind: is {env.kind.value}, but this is a {self.KIND.value}")
        if self.IS_REPLY and env.in_reply_to is None:
            raise ValueError(f"envelope.in_reply_to: a {self.KIND.value} must name the message it answers")
        if not self.IS_REPLY and env.in_reply_to is not None:
            raise ValueError(f"envelope.in_reply_to: a {self.KIND.value} answers nothing; leave it out")
        if self.CASE_FACTS == "required" and env.case is None:
            raise ValueError(f"envelope.case: a {self.KIND.value} must carry the case facts")
        if self.CASE_FACTS == "forbidden" and env.case is not None:
            raise ValueError(f"envelope.case: a {self.KIND.value} carries no case facts; leave it out")
        if env.scope is Scope.ALL_SUBORDINATES and self.KIND is not Kind.DIRECTIVE:
            raise ValueError("envelope.scope: only a directive may use all_subordinates")
        if env.forwards is not None and self.KIND not in FORWARDABLE:
            raise ValueError(f"envelope.forwards: a {self.KIND.value} cannot be forwarded")
        return self

    @model_serializer(mode="wrap")
    def _in_its_version(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A message of an older version is written as that version: without the fields a later
        one added (it cannot have used them, versions.py; they hold their defaults)."""
        out: dict[str, Any] = handler(self)
        version = self.envelope.schema_version
        if version != SCHEMA_VERSION:
            for part, fields in (
                (out["envelope"].get("case"), case_fields_after(version)),
                (out.get("body"), body_fields_after(version, self.KIND)),
            ):
                if isinstance(part, dict):
                    for name in fields & set(part):
                        del part[name]
        return out

    @property
    def sent_at(self) -> datetime:
        return self.envelope.sent_at


class CaseNotice(Message):
    """通报: tells another bureau or a department about a case."""

    KIND = Kind.CASE_NOTICE
    body: CaseNoticeBody


class AssistanceRequest(Message):
    """协查函: asks another bureau to investigate; completed within 15 working days by default."""

    KIND = Kind.ASSISTANCE_REQUEST
    body: AssistanceRequestBody


class AssistanceReply(Message):
    KIND = Kind.ASSISTANCE_REPLY
    body: AssistanceReplyBody


class ExtensionRequest(Message):
    """Tells the requesting bureau (告知) that completing needs more time; sent before the due time, it
    moves the due time itself (SAMR procedure rules: a notice, not a request for leave)."""

    KIND = Kind.EXTENSION_REQUEST
    body: ExtensionRequestBody


class ExtensionDecision(Message):
    KIND = Kind.EXTENSION_DECISION
    body: ExtensionDecisionBody


class Escalation(Message):
    """报请: a lower bureau reports a case to its superior."""

    KIND = Kind.ESCALATION
    body: EscalationBody


class Directive(Message):
    """督办 / 指导: a superior bureau directs or guides subordinates."""

    KIND = Kind.DIRECTIVE
    body: DirectiveBody


class SupervisionReport(Message):
    """督办结果报告: the supervised bureau reports the results of a case its superior supervised (a
    directive of type directive), answering the directive; it closes the supervision_report obligation."""

    KIND = Kind.SUPERVISION_REPORT
    body: SupervisionReportBody


class CaseTransfer(Message):
    """案件移送: hands a case to the competent bureau."""

    KIND = Kind.CASE_TRANSFER
    body: CaseTransferBody


class JurisdictionRequest(Message):
    """报请指定管辖: a bureau asks the common superior of itself and the bureau in ``to`` to designate
    which handles the case: on a dispute the two could not settle (7 working days to agree), or on
    request. The router delivers it to the common superior only."""

    KIND = Kind.JURISDICTION_REQUEST
    body: JurisdictionRequestBody


class JurisdictionDesignation(Message):
    """The common superior designates which bureau handles a disputed case (Art. 14)."""

    KIND = Kind.JURISDICTION_DESIGNATION
    body: JurisdictionDesignationBody


class CoordinationRequest(Message):
    """部门联动: asks another department's office for information or a joint action."""

    KIND = Kind.COORDINATION_REQUEST
    body: CoordinationRequestBody


class CoordinationReply(Message):
    KIND = Kind.COORDINATION_REPLY
    body: CoordinationReplyBody


class PoliceReferral(Message):
    """移送公安机关: a case over the criminal threshold, to the police office at the same level."""

    KIND = Kind.POLICE_REFERRAL
    body: PoliceReferralBody


class PoliceReceipt(Message):
    KIND = Kind.POLICE_RECEIPT
    body: PoliceReceiptBody


class FilingDecision(Message):
    """立案 / 不予立案: the police decision on a referral, with reasons when not filing."""

    KIND = Kind.FILING_DECISION
    body: FilingDecisionBody


class FileReturn(Message):
    KIND = Kind.FILE_RETURN
    body: FileReturnBody


class ReconsiderationRequest(Message):
    """The bureau asks the police to reconsider a decision not to file (within 3 days)."""

    KIND = Kind.RECONSIDERATION_REQUEST
    body: ReconsiderationRequestBody


class AdministrativeInterview(Message):
    """The record of a 约谈, reported to the bureau's superior (who owes nothing; it counts)."""

    KIND = Kind.ADMINISTRATIVE_INTERVIEW
    body: AdministrativeInterviewBody


class JointAction(Message):
    """The record of a joint enforcement action and its results, to the bureau's superior and to the
    department offices that took part."""

    KIND = Kind.JOINT_ACTION
    body: JointActionBody


class TransferDeclined(Message):
    """不予移送: the record of a head's decision not to transfer a case to the police (Decree 310 Art. 5),
    copied to the procuratorate at the bureau's level; it closes the transfer decision."""

    KIND = Kind.TRANSFER_DECLINED
    body: TransferDeclinedBody


class ReconsiderationDecision(Message):
    """The police's answer to a reconsideration request, within 3 days (Decree 310 Art. 9)."""

    KIND = Kind.RECONSIDERATION_DECISION
    body: ReconsiderationDecisionBody


class SupervisionSuggestion(Message):
    """The bureau suggests 立案监督 to the procuratorate at its level (Decree 310 Art. 9), answering the
    decision not to file or the reconsideration decision it disputes; the router delivers it to the
    procuratorate, not to the police."""

    KIND = Kind.SUPERVISION_SUGGESTION
    body: SupervisionSuggestionBody


class AssessmentRequestBody(StrictModel):
    """Nothing: the case facts are in the envelope, and the broker needs no person or evidence to
    assess them, so none is sent."""


class AssessmentRequest(Message):
    """A participant asks the broker for the threshold evaluator's assessment of its case facts,
    without referring anything: the router answers with an assessment_result to the publisher alone.
    A bureau in another language learns the level and clauses a police_referral must state."""

    KIND = Kind.ASSESSMENT_REQUEST
    body: AssessmentRequestBody


ThresholdLevel = Literal["not_reached", "serious", "especially_serious"]
"""broker.domain.threshold_values.Level, as JSON."""


def _figure(value: Any) -> Any:
    if isinstance(value, bool | int | str) or (isinstance(value, float) and value.is_integer()):
        return value
    raise PydanticCustomError(
        "figure_type", 'not a figure: a whole JSON number, true or false, or text ("49/50", "5000.00")'
    )


Figure = Annotated[WireBool | WireInt | str, BeforeValidator(_figure)]
"""A figure as JSON: a count, a flag, yuan as a decimal string ("5000.00"), a ratio ("49/50")."""


class AssessedClause(StrictModel):
    """A clause the facts meet, with the figures that met it (ClauseMet.to_dict)."""

    clause: str = Field(max_length=40, description="art5.N (para. 1 item N), art5.p2.N, art6.N.")
    title: str = Field(max_length=500)
    level: Literal["serious", "especially_serious"]
    figures: dict[str, Figure] = Field(default_factory=dict, max_length=50)


class AssessedComparison(StrictModel):
    """One quantitative test, met or not, with the thresholds applied (Comparison.to_dict)."""

    clause: str = Field(max_length=40)
    measure: str = Field(max_length=500)
    value: Figure
    threshold: Figure
    especially_serious_threshold: Figure
    level: ThresholdLevel


class AssessmentResultBody(StrictModel):
    """The evaluator's assessment of the request's case facts (Assessment.to_dict): what a police
    referral's body states as threshold_version (= rules_version), level, clauses and explanation."""

    reached: WireBool
    level: ThresholdLevel
    rules_version: str = Field(max_length=100)
    rules_citation: str = Field(max_length=500)
    insider: WireBool = Field(description="Insider halving (Art. 5 item 8) applied.")
    article: Literal["art5", "art6"] = Field(description="The article whose test was applied.")
    clauses: list[AssessedClause] = Field(max_length=50)
    comparisons: list[AssessedComparison] = Field(max_length=50)
    explanation: str = Field(
        max_length=MAX_TEXT,
        description="The assessment in prose, made of the figures above (nothing else the request said).",
    )


class AssessmentResult(Message):
    """From the broker (system:000000) to the publisher of an assessment_request, answering it."""

    KIND = Kind.ASSESSMENT_RESULT
    body: AssessmentResultBody


class ReceiptAck(Message):
    """签收: the addressee confirms receipt."""

    KIND = Kind.RECEIPT_ACK
    body: AckBody


class CompletionAck(Message):
    """The addressee reports the matter done."""

    KIND = Kind.COMPLETION_ACK
    body: AckBody


class DeadlineNotice(Message):
    """A reminder, escalation or overdue notice from the tracker (sender system:000000)."""

    KIND = Kind.DEADLINE_NOTICE
    body: DeadlineNoticeBody


class ReferralLinkedBody(StrictModel):
    """The broker joined a second police referral of the same company and facts to the first."""

    referral: WireUuid = Field(description="The referral the police already hold.")
    linked: WireUuid = Field(description="The referral joined to it.")
    police: AddressText = Field(
        description="The police office the linked referral went to: the referring bureau's same-level "
        "police (Decree 310 Art. 5), told of the first referral by the link."
    )
    bureaus: list[AddressText] = Field(min_length=1, max_length=2)
    reason: str = Field(max_length=500)


class ReferralLinked(Message):
    """From the broker (system:000000) to both referring bureaus: a second referral links to the first."""

    KIND = Kind.REFERRAL_LINKED
    body: ReferralLinkedBody


class RefusalStage(StrEnum):
    """Where the router refused a message (the x-quarantine-stage of its quarantined copy)."""

    TRANSPORT = "transport"
    CONTRACT = "contract"
    AUTHENTICATION = "authentication"
    ROUTING = "routing"
    DUPLICATE = "duplicate"
    INTERNAL = "internal"
    RATE = "rate"
    """The sender published faster than its rate (broker/router/rates.py)."""


class DeliveryRefusedBody(StrictModel):
    """Why the broker did not route a message its recipient published. The texts name fields and
    rules only, never a value from the refused message."""

    refused_message_id: WireUuid | None = Field(
        None, description="The refused message's envelope message_id, when it could be read."
    )
    quarantine_id: str = Field(
        max_length=80,
        description="The refused message's id in the quarantine, for operators "
        "(`referral-broker quarantine show <id>`).",
    )
    stage: RefusalStage
    field: str = Field(
        max_length=500, description="Dotted path of the offending field, `$` for the whole message."
    )
    reason: str = Field(max_length=500)
    what_to_do: str = Field(max_length=500)


class DeliveryRefused(Message):
    """From the broker (system:000000) to the authenticated publisher of a message it quarantined."""

    KIND = Kind.DELIVERY_REFUSED
    body: DeliveryRefusedBody


MESSAGE_TYPES: dict[Kind, type[Message]] = {
    cls.KIND: cls
    for cls in (
        CaseNotice,
        AssistanceRequest,
        AssistanceReply,
        ExtensionRequest,
        ExtensionDecision,
        Escalation,
        Directive,
        CaseTransfer,
        JurisdictionRequest,
        JurisdictionDesignation,
        CoordinationRequest,
        CoordinationReply,
        PoliceReferral,
        PoliceReceipt,
        FilingDecision,
        FileReturn,
        ReconsiderationRequest,
        AdministrativeInterview,
        JointAction,
        TransferDeclined,
        ReconsiderationDecision,
        SupervisionSuggestion,
        AssessmentRequest,
        AssessmentResult,
        ReceiptAck,
        CompletionAck,
        DeadlineNotice,
        ReferralLinked,
        DeliveryRefused,
        SupervisionReport,
    )
}
"""Every kind of contract version 2.1 and its model (versions.py: the kinds of 2.0)."""
