"""The deadline tracker: nothing addressed to a bureau is silently ignored.

It reads the routing decision records (``rb.tracker.decisions``, envelope metadata only, never a
body), turns each message that needs an answer into obligations (who owes what to whom, due when,
on what basis), closes them when the answer is routed, chases what is late with deadline notices
sent as ``system:000000``, and keeps an append-only history of every message's life.

    clock.py      Clock protocol: the system clock, and a manual one for tests
    calendar.py   working days on China's official calendar, with operator-loaded years
    statutory.py  the holidays the law fixes, for a year whose notice is not loaded (provisional)
    record.py     the decision record, parsed and checked
    rules.py      the one deadline rule table (pure)
    notices.py    who receives a reminder, an escalation or an overdue notice, and its message
    schema.py     tables; migrations/ holds their Alembic history
    db.py         engines, retried transactions, migrations, stored times
    model.py      obligations, notices, audit events, figures
    store.py      the tracker's state: ingest, close, extend, claim notices, load the calendar
    views.py      operator views: trace, overdue, stats
    settings.py   environment variables
    commands.py   `referral-broker track | trace | overdue | stats | holidays | tracker-bench`
    bench.py      the benchmark
    testing.py    decision records from the real routing rules, throw-away databases

README.md in this folder is the operator's and reviewer's guide.
"""
