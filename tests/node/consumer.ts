// A bureau system's use of the generated models, compiled by tsc in CI: read a delivered case
// notice, answer it with a receipt_ack, and follow decision records. If the AsyncAPI document
// loses a name or a field this file uses, tsc fails.
import type { CaseNotice, DecisionRecord, ReceiptAck, RoutedRecord } from "./build/models/index";

export function acknowledge(notice: CaseNotice, me: string, messageId: string, now: string): ReceiptAck {
  return {
    envelope: {
      message_id: messageId,
      kind: "receipt_ack",
      schema_version: "2.1",
      sender: me,
      to: [notice.envelope.sender],
      case_id: notice.envelope.case_id,
      in_reply_to: notice.envelope.message_id,
      sent_at: now,
    },
    body: { summary: "" },
  };
}

export function deliveredTo(record: DecisionRecord): string[] {
  const routed = record as RoutedRecord;
  return routed.event === "routed" ? routed.deliveries.map((d) => `${d.to} (${d.rule})`) : [];
}

export function recordsCounted(notice: CaseNotice): number {
  return (notice.envelope.case.records ?? []).reduce((sum, r) => sum + (r.provided ?? 0) + (r.held ?? 0), 0);
}
