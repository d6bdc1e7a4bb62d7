"""List, show, replay and discard held messages, writing each action into the operator audit trail.

Each call opens one channel on one holding queue and closes it before returning, so whatever it did
not settle goes back to the queue. Results are values (`Outcome`) that the CLI prints and the
console renders; an id that matched nothing held is an outcome too, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from broker.store.operator_audit import OperatorTrail, reason_text
from broker.transport.quarantine import QUEUES, Filter, Held, OperatorError, holding_queue, select

Admits = Callable[[Held], bool]
"""Whether the operator may see and act on a held message (the console's province scope)."""


def _everything(held: Held) -> bool:
    return True


@dataclass(frozen=True)
class Outcome:
    id: str
    done: bool
    text: str
    held: Held | None = None
    """The message acted on, when one matched the id."""


def not_held_text(wanted: str, name: str) -> str:
    return (
        f"{wanted} is not held in {name} (replayed or discarded already? `referral-broker trace "
        f"{wanted}` shows its story; `referral-broker {name.removeprefix('rb.')} list` shows what is held)"
    )


def held(
    url: str,
    holding: str,
    trail: OperatorTrail | None,
    wanted: Filter | None = None,
    admits: Admits = _everything,
) -> tuple[list[Held], int]:
    """What `holding` holds that `wanted` and `admits` let through, and how many it holds in all.
    The router's verdict of each message goes into the trail the first time an operator sees it."""
    with holding_queue(url, QUEUES[holding]) as queue:
        everything = queue.held()
    if trail is not None:
        trail.note_quarantined(everything)
    shown = [h for h in everything if admits(h) and (wanted is None or wanted.admits(h))]
    return shown, len(everything)


def show(
    url: str,
    holding: str,
    wanted: str,
    trail: OperatorTrail,
    body_reason: str | None = None,
    admits: Admits = _everything,
) -> Outcome:
    """One held message's headers and envelope metadata (the body only with a reason), audited."""
    name = QUEUES[holding]
    with holding_queue(url, name) as queue:
        chosen, _ = select([h for h in queue.held() if admits(h)], [wanted])
    if not chosen:
        return Outcome(wanted, False, not_held_text(wanted, name))
    trail.note_quarantined(chosen)
    h = chosen[0]
    if body_reason is None:
        trail.action(h, "operator_shown", "headers and envelope metadata")
    else:
        trail.action(h, "operator_body_shown", f"body shown: {reason_text(body_reason)}")
    return Outcome(h.id, True, "shown", h)


def replay(
    url: str, wanted: Sequence[str], reason: str, trail: OperatorTrail, admits: Admits = _everything
) -> list[Outcome]:
    """Send quarantined inputs through the router again as their original sender (`url` must be the
    router's user); each replay confirmed, then its copy dropped and the action audited."""
    name = QUEUES["quarantine"]
    out: list[Outcome] = []
    with holding_queue(url, name) as queue:
        chosen, missing = select([h for h in queue.held() if admits(h)], list(wanted))
        trail.note_quarantined(chosen)
        for h in chosen:
            try:
                queue.replay(h)
            except OperatorError as exc:
                out.append(Outcome(h.id, False, str(exc), h))
                continue
            trail.action(
                h, "operator_replayed", f"replayed to rb.inbound as {h.user_id}: {reason_text(reason)}"
            )
            out.append(
                Outcome(
                    h.id,
                    True,
                    f"replayed {h.id} as {h.user_id}; the router checks it again "
                    f"(`referral-broker trace {h.id}`)",
                    h,
                )
            )
    out.extend(Outcome(m, False, not_held_text(m, name)) for m in missing)
    return out


def discard(
    url: str,
    holding: str,
    wanted: Sequence[str],
    reason: str,
    trail: OperatorTrail,
    admits: Admits = _everything,
) -> list[Outcome]:
    """Remove held messages for good, each audited with the operator's reason."""
    name = QUEUES[holding]
    out: list[Outcome] = []
    with holding_queue(url, name) as queue:
        chosen, missing = select([h for h in queue.held() if admits(h)], list(wanted))
        trail.note_quarantined(chosen)
        for h in chosen:
            queue.discard(h)
            trail.action(h, "operator_discarded", f"discarded from {name}: {reason_text(reason)}")
            out.append(Outcome(h.id, True, f"discarded {h.id}", h))
    out.extend(Outcome(m, False, not_held_text(m, name)) for m in missing)
    return out
