"""The console's pages (the log-in is broker/console/login.py): the live routing log, a case's
timeline, open obligations, the holding queues and their actions, health, the scoreboard and the
campaign."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from jinja2 import Environment
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from broker.console import campaign
from broker.console import health as health_view
from broker.console.routing_log import Entry, LogFilter
from broker.console.scope import Scope, record_parties
from broker.console.sessions import COOKIE, Session
from broker.domain import campaign_figures
from broker.quarantine import operations
from broker.store import console_views
from broker.store.tracker import views
from broker.store.tracker.db import duration_text
from broker.transport.quarantine import QUEUES, Held, OperatorError

if TYPE_CHECKING:
    from broker.console.app import Console

Page = Callable[[Callable[..., Any]], Callable[[Request], Response]]
Render = Callable[..., HTMLResponse]

BEIJING = timezone(timedelta(hours=8), "CST")
"""China Standard Time, which has no daylight saving: the time operators read."""
LOG_ROWS = 100
"""Rows the routing log page shows at first; live rows are added above them."""
CACHE_S = 1.0
"""Open obligations and the scoreboard are computed at most once a second for the same question."""
CAMPAIGN_CACHE_S = 2.0
"""The campaign's figures are a pass over the whole routing log: at most one every 2 s per scope."""


def when(value: Any) -> str:
    """A time for people, Beijing time: a datetime, an ISO text or a Unix time."""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else value.isoformat()
    return ""


def _form_csrf(session: Session, form: Any) -> None:
    if form.get("csrf") != session.csrf:
        raise HTTPException(403, "this form has expired: load the page again")


def _holding(name: str) -> str:
    if name not in QUEUES:
        raise HTTPException(404, f"no holding queue {name!r} (quarantine or dead-letter)")
    return name


def _scope_admits_held(scope: Scope) -> Callable[[Held], bool]:
    return lambda h: scope.admits_user(h.user_id)


class RowCache:
    """Each routing-log row rendered once: a row holds nothing that depends on who looks, and the
    log pages are most of what 50 operators load (a live page asks every second)."""

    def __init__(self, env: Environment, capacity: int) -> None:
        self.template = env.get_template("log_row.html")
        self.capacity = capacity
        self._html: dict[int, str] = {}
        self._lock = threading.Lock()

    def html(self, entries: list[Entry]) -> Markup:
        out = []
        for e in entries:
            row = self._html.get(e.seq)
            if row is None:
                row = self._html[e.seq] = self.template.render(e=e, when=when)
            out.append(row)
        if len(self._html) > self.capacity + self.capacity // 10:
            with self._lock:
                newest = max(self._html, default=0)
                for seq in [s for s in self._html if s <= newest - self.capacity]:
                    self._html.pop(seq, None)
        return Markup("".join(out))


def routes(console: Console, page: Page, render: Render, env: Environment) -> list[Route]:
    rows = RowCache(env, console.log.capacity)

    def home(request: Request) -> Response:
        return RedirectResponse("/log", status_code=303)

    def log_filter(request: Request) -> LogFilter:
        q = request.query_params
        return LogFilter(
            **{k: (q.get(k) or "").strip() or None for k in ("bureau", "case", "kind", "rule", "outcome")}
        )

    def routing_log(request: Request, session: Session) -> Any:
        wanted = log_filter(request)
        entries, upto = console.log.newest(wanted, session.operator.scope, limit=LOG_ROWS)
        return "log.html", {
            "entries": entries,
            "rows": rows.html(entries),
            "upto": upto,
            "wanted": wanted,
            "held": len(console.log),
            "bound": console.follower is not None and console.follower.bound.is_set(),
            "when": when,
        }

    def routing_log_rows(request: Request, session: Session) -> Any:
        wanted = log_filter(request)
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            raise HTTPException(400, "after: a record number") from None
        entries, upto = console.log.newest(wanted, session.operator.scope, after=after, limit=LOG_ROWS)
        return HTMLResponse(rows.html(entries), headers={"X-Last-Seq": str(upto)})

    def case_search(request: Request, session: Session) -> Any:
        case_id = (request.query_params.get("id") or "").strip()
        if not case_id:
            raise HTTPException(400, "id: give a case number, e.g. ZJSX-2019-0042")
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    def case_page(request: Request, session: Session) -> Any:
        case_id = request.path_params["case_id"]
        scope = session.operator.scope
        entries = console.log.of_case(case_id)
        parties = console_views.case_parties(console.engine, case_id)
        for e in entries:
            parties.update(record_parties(e.record))
        trail = console.trail(session)
        if not scope.admits_any(parties):
            trail.note("operator_denied", f"case outside scope {scope}", case_id=case_id)
            raise HTTPException(403, f"this case does not touch your province ({scope})")
        events = views.trace(console.engine, case_id)
        if not events and not entries and not parties:
            raise HTTPException(404, f"nothing known about case {case_id}")
        trail.note("operator_viewed", "case page", case_id=case_id)
        now = console.clock()
        obligations = views.obligations(console.engine, case_id=case_id)
        return "case.html", {
            "case_id": case_id,
            "events": events,
            "obligations": obligations,
            "entries": entries,
            "rows": rows.html(entries[::-1]),
            "now": now,
            "when": when,
            "duration": duration_text,
        }

    def obligations_page(request: Request, session: Session) -> Any:
        q = request.query_params
        sort = q.get("sort", "due_at")
        if sort not in console_views.SORTABLE:
            raise HTTPException(400, f"sort: one of {', '.join(console_views.SORTABLE)}")
        descending = q.get("order") == "desc"
        try:
            within_h = float(q.get("within", "48"))
        except ValueError:
            raise HTTPException(400, "within: hours, e.g. 48") from None
        bureau = (q.get("bureau") or "").strip() or None
        now = console.clock()
        province = session.operator.scope.province
        within = q.get("within", "48")
        table = env.get_template("obligations_table.html")

        def compute() -> tuple[list[Any], Markup, int]:
            found = console_views.open_obligations(
                console.engine,
                now,
                timedelta(hours=within_h),
                province=province,
                party=bureau,
                sort=sort,
                descending=descending,
            )
            # the table is the same for everyone asking the same question within the second
            html = table.render(
                rows=found,
                now=now,
                sort=sort,
                descending=descending,
                within=within,
                bureau=bureau or "",
                when=when,
                duration=duration_text,
            )
            return found, Markup(html), sum(1 for o in found if o.overdue(now))

        key = ("obligations", int(now.timestamp()), within, province, bureau, sort, descending)
        rows, html, overdue = console.cached(key, CACHE_S, compute)
        return "obligations.html", {
            "rows": rows,
            "table": html,
            "within": within,
            "bureau": bureau or "",
            "sort": sort,
            "overdue": overdue,
            "limit": console_views.DEFAULT_LIMIT,
        }

    def quarantine_page(request: Request, session: Session) -> Any:
        holding = _holding(request.path_params.get("holding", "quarantine"))
        admits = _scope_admits_held(session.operator.scope)
        try:
            shown, total = operations.held(console.amqp_url, holding, console.trail(session), admits=admits)
            error = None
        except OperatorError as exc:
            shown, total, error = [], 0, str(exc)
        groups: dict[tuple[str, str, str], list[Held]] = {}
        for h in shown:
            groups.setdefault((h.stage, h.field, h.reason), []).append(h)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return "quarantine.html", {
            "holding": holding,
            "queue": QUEUES[holding],
            "groups": ordered,
            "shown": len(shown),
            "total": total,
            "error": error,
            "can_replay": holding == "quarantine" and console.replay_url is not None,
            "outcomes": [],
            "when": when,
        }

    def held_page(request: Request, session: Session) -> Any:
        holding = _holding(request.path_params["holding"])
        wanted = request.path_params["held_id"]
        admits = _scope_admits_held(session.operator.scope)
        outcome = operations.show(console.amqp_url, holding, wanted, console.trail(session), admits=admits)
        if outcome.held is None:
            raise HTTPException(404, outcome.text)
        return "held.html", {
            "holding": holding,
            "held": outcome.held.summary(),
            "headers": outcome.held.headers,
            "can_replay": holding == "quarantine" and console.replay_url is not None,
            "when": when,
        }

    async def act(request: Request) -> Response:
        session = console.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return RedirectResponse("/login", status_code=303)
        request.state.session = session
        form = await request.form()
        _form_csrf(session, form)
        holding = _holding(request.path_params["holding"])
        action = request.path_params["action"]
        ids = [str(i) for i in form.getlist("id") if str(i)]
        reason = " ".join(str(form.get("reason", "")).split())
        if not ids:
            raise HTTPException(400, "id: tick at least one message")
        if not reason:
            raise HTTPException(400, "reason: say why (it goes into the audit trail)")
        admits = _scope_admits_held(session.operator.scope)
        if action == "replay":
            if holding != "quarantine":
                raise HTTPException(400, "only quarantined input can be replayed")
            if console.replay_url is None:
                raise HTTPException(
                    409, "replays need the router's user: start the console with RB_CONSOLE_REPLAY_URL set"
                )
            url = console.replay_url
            outcomes = await run_in_threadpool(
                operations.replay, url, ids, reason, console.trail(session, url), admits
            )
        elif action == "discard":
            outcomes = await run_in_threadpool(
                operations.discard, console.amqp_url, holding, ids, reason, console.trail(session), admits
            )
        else:
            raise HTTPException(404, "no such action (replay or discard)")
        return render(
            request,
            "done.html",
            status=200 if all(o.done for o in outcomes) else 409,
            holding=holding,
            action=action,
            outcomes=outcomes,
        )

    def health_page(request: Request, session: Session) -> Any:
        return "health.html", {"h": health_view.check(console), "when": when, "duration": duration_text}

    def health_json(request: Request, session: Session) -> Any:
        return JSONResponse(health_view.check(console).to_dict())

    def scoreboard(request: Request, session: Session) -> Any:
        now = console.clock()
        scope = session.operator.scope
        every = console.cached(
            ("stats", int(now.timestamp())), CACHE_S, lambda: views.stats(console.engine, now)
        )
        parties = [s for s in every if scope.admits_address(s.party)]
        by = request.query_params.get("by", "party")
        rows = health_view.by_province(parties) if by == "province" else parties
        return "scoreboard.html", {"rows": rows, "by": by, "duration": duration_text}

    def campaign_page(request: Request, session: Session) -> Any:
        scope = session.operator.scope

        def compute() -> campaign.Counted:
            seen = (e.record for e in console.log.oldest_first() if scope.admits_record(e.record))
            return campaign.count(seen)

        counted = console.cached(("campaign", str(scope)), CAMPAIGN_CACHE_S, compute)
        return "campaign.html", {
            "counted": counted,
            "charts": campaign.charts(counted),
            "scope": scope,
            "report_cases": campaign_figures.CASES,
        }

    return [
        Route("/", home),
        Route("/log", page(routing_log)),
        Route("/log/rows", page(routing_log_rows)),
        Route("/cases", page(case_search)),
        Route("/cases/{case_id:path}", page(case_page)),
        Route("/obligations", page(obligations_page)),
        Route("/holding/{holding}", page(quarantine_page)),
        Route("/holding/{holding}/{action}", act, methods=["POST"]),
        Route("/holding/{holding}/show/{held_id:path}", page(held_page)),
        Route("/health", page(health_page)),
        Route("/health.json", page(health_json)),
        Route("/scoreboard", page(scoreboard)),
        Route("/campaign", page(campaign_page)),
    ]
