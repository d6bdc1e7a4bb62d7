"""The operator console: a web application over the routing log, the tracker's database and the
holding queues (`referral-broker console`). Envelope metadata only, never a body; operators log
in, a provincial operator sees only traffic that touches the province, and every action is in the
operator audit trail."""
