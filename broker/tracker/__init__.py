"""The deadline tracker: nothing addressed to a bureau is silently ignored.

It reads the routing decision records (``rb.tracker.decisions``, envelope metadata only, never a
body), turns each message that needs an answer into obligations (who owes what to whom, due when,
on what basis), closes them when the answer is routed, chases what is late with deadline notices
sent as ``system:000000``, and keeps an append-only history of every message's life.

    clock.py      Clock protocol: the system clock, and a manual one for tests
    calendar.py   working days on China's official calendar, with operator-loaded years
    statutory.py  the holidays the law fixes, for a year whose notice is not loaded (provisional)
    record.py     the decision record (broker/domain/decision_record.py), parsed and checked
    rules.py      the one deadline rule table: which obligations a routed message opens (pure)
    closing.py    what closes an open obligation and when, extensions, which notices chase it (pure)
    notices.py    who receives a reminder, an escalation or an overdue notice, and its message
    service.py    the worker: one broker session, ingest in batches, scan and send notices
    settings.py   environment variables

Elsewhere: broker/store/tracker/ persists the state (store.py the facade; ingest.py, answers.py,
chasing.py, holidays.py the steps; views.py the operator views; schema.py and migrations/),
broker/cli/tracker.py the commands, broker/tools/records.py and broker/tools/bench/tracker.py the
test records and the benchmark, workers/tracker.py the process entry point.

README.md in this folder is the operator's and reviewer's guide.
"""
