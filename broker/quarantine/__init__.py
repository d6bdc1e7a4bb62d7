"""Operators' view of rb.quarantine and rb.dead-letter: list, show, replay, discard, each audited.

- `ids`: what the router writes on a quarantined message so an operator can name it (pure);
- `queue`: reading and settling the held messages over AMQP (pika, like `dead-letter refeed`);
- `audit`: operator actions in the tracker's append-only audit trail, where `trace` reads them.
"""
