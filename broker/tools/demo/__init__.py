"""`referral-broker demo`: the whole system at work in one command.

It provisions a realistic set of participants in a scratch vhost, starts the router and the deadline
tracker on a compressed clock, replays a campaign shaped by the 2019 figures (DOMAIN.md) with
simulated bureaus, departments and police answering (some late, some never), and ends by proving
that nothing was lost.

    defaults.py      the defaults the CLI shows
    clock.py         ScaledClock: simulated time running N times faster than real time
    cast.py          who takes part: every province, a sample of cities and counties, departments
    facts.py         case facts drawn from the 2019 figures, on the right side of the criminal threshold
    fitting.py       exact quotas, and amounts fitted to the report's totals by sector and violation
    campaign.py      the plan of each case (pure, seeded)
    steps.py         what a participant does at a simulated time (values)
    agenda.py        steps waiting for their simulated time
    behaviour.py     how recipients meet what they owe: in time, after a reminder, late or never
    desk.py          each participant's own client (own user), publishing at simulated time
    script.py        turns steps into real messages and publishes them
    ledger.py        what the router had to do, what it says it did
    taps.py          the administrator's view: the routing log, queue depths, inbox contents
    vhost.py         the scratch vhost, kept or removed
    provisioning.py  users, permissions and inboxes for the cast
    workers.py       the router and the tracker, as threads on the compressed clock
    simulation.py    the loop: routed messages in, due steps out, progress; then settling
    measure.py       the proof at the end: inboxes against promises, and the counts
    fidelity.py      the report's figures beside the replay's, and where each was counted
    report.py        the summary table and the JSON line
    run.py           the orchestration
    commands.py      the CLI
"""
