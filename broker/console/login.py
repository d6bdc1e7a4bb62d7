"""The console's log-in and log-out. A failed log-in is answered after LOGIN_FAILURE_PAUSE_S and
counted by the throttle (broker/console/throttle.py) per account and per client address; while
either is locked, an attempt is refused with 429 and Retry-After, its password not looked at.
Unknown logins and wrong passwords get the same answers. Every outcome goes to the audit trail."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from broker.console.sessions import COOKIE
from broker.store.operator_audit import OperatorTrail, console_actor

if TYPE_CHECKING:
    from broker.console.app import Console

Render = Callable[..., HTMLResponse]

LOGIN_FAILURE_PAUSE_S = 1.0
"""A wrong password is answered after this long, so guessing is slow even before a lock."""
REFUSED = "unknown login or wrong password"

LOGIN_MAX = 64
"""Longest login the console reads from the form: no operator's is longer, and neither the throttle's
keys nor the audit trail should hold whatever a client sends."""


def _target(text: str) -> str:
    """Where to go after the log-in: a path of the console's own, never another site."""
    return text if text.startswith("/") and not text.startswith("//") else "/log"


def routes(console: Console, render: Render) -> list[Route]:
    def actor(login_name: str) -> OperatorTrail:
        known = login_name if login_name in {o.login for o in console.accounts.operators()} else "?"
        return OperatorTrail(console.engine, console_actor(known, console.amqp_url))

    def login_form(request: Request) -> Response:
        return render(request, "login.html", next=request.query_params.get("next", "/log"), error=None)

    async def login(request: Request) -> Response:
        form = await request.form()
        # a login is short; what is typed beyond LOGIN_MAX is not kept (the throttle keys on it)
        login_name, password = str(form.get("login", ""))[:LOGIN_MAX], str(form.get("password", ""))
        target = _target(str(form.get("next") or "/log"))
        address = request.client.host if request.client else "?"
        refusal = console.throttle.begin(login_name, address)
        if refusal is not None:
            wait = math.ceil(refusal.wait_s)
            await run_in_threadpool(
                actor(login_name).note, "operator_login_throttled", f"{refusal.what} locked {wait} s more"
            )
            locked = render(
                request,
                "login.html",
                status=429,
                next=target,
                error=f"too many failed log-ins: try again in {wait} s",
            )
            locked.headers["retry-after"] = str(wait)
            return locked
        try:
            operator = await run_in_threadpool(console.accounts.verify, login_name, password)
        except BaseException:
            console.throttle.abandoned(login_name, address)
            raise
        if operator is None:
            console.throttle.failed(login_name, address)
            known = login_name in {o.login for o in console.accounts.operators()}
            await run_in_threadpool(
                actor(login_name).note,
                "operator_login_refused",
                "wrong password" if known else "unknown login",
            )
            await anyio.sleep(LOGIN_FAILURE_PAUSE_S)
            return render(request, "login.html", status=401, next=target, error=REFUSED)
        console.throttle.succeeded(login_name, address)
        token = console.sessions.start(operator)
        session = console.sessions.get(token)
        assert session is not None
        await run_in_threadpool(console.trail(session).note, "operator_login", f"scope {operator.scope}")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    async def logout(request: Request) -> Response:
        form = await request.form()
        token = request.cookies.get(COOKIE)
        session = console.sessions.get(token)
        if session is not None and form.get("csrf") == session.csrf:
            console.sessions.end(token)
            await run_in_threadpool(console.trail(session).note, "operator_logout", "")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
