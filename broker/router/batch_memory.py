"""The routing index as one batch sees it: the store's, plus the decisions of the batch in hand, so
a reply may follow its original closely (both in one batch)."""

from __future__ import annotations

from uuid import UUID

from broker.domain.address import Address
from broker.domain.routing import InMemoryRoutingMemory, RoutedRecord
from broker.router.ports import RoutingIndex


class BatchMemory:
    def __init__(self, base: RoutingIndex) -> None:
        self.base = base
        self.batch = InMemoryRoutingMemory()
        self.digests: dict[UUID, str] = {}
        """Digest of each message routed in this batch, by id."""

    def remember(self, record: RoutedRecord, digest: str) -> None:
        self.batch.remember(record)
        self.digests[record.message_id] = digest

    def original(self, message_id: UUID) -> RoutedRecord | None:
        return self.batch.original(message_id) or self.base.original(message_id)

    def referral(self, fingerprint: str) -> RoutedRecord | None:
        return self.batch.referral(fingerprint) or self.base.referral(fingerprint)

    def received_by_transfer(self, case_id: str, bureau: Address) -> RoutedRecord | None:
        return self.batch.received_by_transfer(case_id, bureau) or self.base.received_by_transfer(
            case_id, bureau
        )

    def subject_received_by_transfer(self, subjects: frozenset[str], bureau: Address) -> RoutedRecord | None:
        return self.batch.subject_received_by_transfer(
            subjects, bureau
        ) or self.base.subject_received_by_transfer(subjects, bureau)
