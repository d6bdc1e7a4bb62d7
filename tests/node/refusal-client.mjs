// A bureau system written in Node.js with amqplib from the README and schemas/ alone, as a new
// integrator would: it publishes the mistakes such integrators make, under its own user_id, then
// reads its own inbox for the broker's delivery_refused notices and prints them as JSON lines.
//
//   RB_URL=amqp://user:password@host:5672/vhost RB_USER=<its user> RB_INBOX=<its inbox> \
//   RB_ADDRESS=bureau:330681 RB_OTHER=bureau:330600 node refusal-client.mjs
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import amqp from "amqplib";

const { RB_URL, RB_USER, RB_INBOX, RB_ADDRESS, RB_OTHER } = process.env;
const example = JSON.parse(readFileSync(new URL("../../schemas/examples/case_notice.json", import.meta.url)));
const LIMIT = 256 * 1024; // README "Limits": the largest message the broker reads

function notice(changes) {
  const message = structuredClone(example);
  Object.assign(message.envelope, {
    message_id: randomUUID(),
    sender: RB_ADDRESS,
    to: [RB_OTHER],
    sent_at: new Date().toISOString(),
    ...changes,
  });
  return message;
}

const mistakes = [];
function mistake(name, body, messageId) {
  mistakes.push({ name, body: Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)), messageId });
}
mistake("not_json", Buffer.from("case notice for 330600, see attachment"), randomUUID());
for (const [name, changes] of [
  ["retired_code", { to: ["bureau:330682"] }],
  ["unprovisioned_recipient", { to: ["bureau:330624"] }],
  ["claims_another_sender", { sender: RB_OTHER, to: ["bureau:330000"] }],
]) {
  const message = notice(changes);
  mistake(name, message, message.envelope.message_id);
}
const large = notice({});
large.body.summary = "x".repeat(LIMIT);
mistake("too_large", large, large.envelope.message_id);

const connection = await amqp.connect(RB_URL);
try {
  const channel = await connection.createConfirmChannel();
  for (const { body, messageId } of mistakes) {
    channel.publish("rb.inbound", "", body, {
      userId: RB_USER, // the broker refuses any other; the router's proof of the sender
      messageId,
      contentType: "application/json",
      persistent: true,
    });
  }
  await channel.waitForConfirms();

  const refusals = [];
  const deadline = Date.now() + 15000;
  while (refusals.length < mistakes.length && Date.now() < deadline) {
    const delivery = await channel.get(RB_INBOX, { noAck: false });
    if (!delivery) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const message = JSON.parse(delivery.content.toString("utf8"));
    if (message.envelope.kind === "delivery_refused") {
      refusals.push({ sender: message.envelope.sender, to: message.envelope.to, ...message.body });
    }
    channel.ack(delivery);
  }
  for (const refusal of refusals) console.log(JSON.stringify(refusal));
  console.log(JSON.stringify({ published: mistakes.map(({ name, messageId }) => ({ name, messageId })) }));
} finally {
  await connection.close();
}
