// A bureau system in Node.js (amqplib) asks the broker for the threshold evaluator's assessment of
// its case facts before it sends a police referral: it publishes an assessment_request (README,
// "Using the contract from another language") and reads the assessment_result from its own inbox.
// It asks about each vector of schemas/threshold/vectors.json named in RB_VECTORS and prints one
// JSON line per answer: the vector's name, the level and the clauses the referral must state.
//
//   RB_URL=... RB_USER=<its user> RB_INBOX=<its inbox> RB_ADDRESS=bureau:330681 \
//   RB_VECTORS=art5.3.at,nothing node assessment-client.mjs
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import amqp from "amqplib";

const { RB_URL, RB_USER, RB_INBOX, RB_ADDRESS, RB_VECTORS } = process.env;
const read = (path) => JSON.parse(readFileSync(new URL(path, import.meta.url)));
const example = read("../../schemas/examples/assessment_request.json");
const vectors = new Map(read("../../schemas/threshold/vectors.json").vectors.map((v) => [v.name, v]));

const asked = new Map(); // message_id -> vector name
const connection = await amqp.connect(RB_URL);
try {
  const channel = await connection.createConfirmChannel();
  for (const name of RB_VECTORS.split(",")) {
    const request = structuredClone(example);
    Object.assign(request.envelope, {
      message_id: randomUUID(),
      sender: RB_ADDRESS,
      sent_at: new Date().toISOString(),
      case: vectors.get(name).facts,
    });
    asked.set(request.envelope.message_id, name);
    channel.publish("rb.inbound", "", Buffer.from(JSON.stringify(request)), {
      userId: RB_USER,
      messageId: request.envelope.message_id,
      contentType: "application/json",
      persistent: true,
    });
  }
  await channel.waitForConfirms();

  const answers = [];
  const deadline = Date.now() + 15000;
  while (answers.length < asked.size && Date.now() < deadline) {
    const delivery = await channel.get(RB_INBOX, { noAck: false });
    if (!delivery) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const message = JSON.parse(delivery.content.toString("utf8"));
    const name = asked.get(message.envelope.in_reply_to);
    if (message.envelope.kind === "assessment_result" && name !== undefined) {
      const { level, rules_version, clauses } = message.body;
      answers.push({
        name,
        sender: message.envelope.sender,
        correlationId: delivery.properties.correlationId,
        inReplyTo: message.envelope.in_reply_to,
        level,
        threshold_version: rules_version,
        clauses: clauses.map(({ clause, figures }) => ({ clause, figures })),
      });
    }
    channel.ack(delivery);
  }
  for (const answer of answers) console.log(JSON.stringify(answer));
} finally {
  await connection.close();
}
