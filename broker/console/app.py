"""The console's pages (Starlette, Jinja2 templates, a little JavaScript that only adds live rows).

Every page but the login needs a session; every page reads envelope metadata only, and the
templates are given no body to show. Endpoints are plain functions, which Starlette runs in its
thread pool: the database and the broker are read with blocking clients.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.console import login, pages
from broker.console.accounts import Accounts
from broker.console.routing_log import RoutingLog
from broker.console.sessions import COOKIE, Session, Sessions
from broker.console.throttle import LoginThrottle
from broker.store.console_views import Engine
from broker.store.operator_audit import OperatorTrail, console_actor
from broker.transport.observe import BROKER_ERRORS, RoutingLogFollower
from broker.transport.quarantine import OperatorError

HERE = Path(__file__).parent
GZIP_LEVEL = 5
"""Pages of more than 1 KiB are gzipped for clients that accept it (a routing-log page of 43 kB
becomes about 5 kB, for operators on provincial networks); level 5 costs a fraction of level 9's
time for nearly its size."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Console:
    """What the pages read and act with."""

    amqp_url: str
    """The broker user the console reads as (the operator's user: routing log, holding queues)."""
    engine: Engine
    """The tracker's database: obligations, the audit trail (where operator actions go too)."""
    accounts: Accounts
    replay_url: str | None = None
    """The router's user, which alone may replay as the original sender; None: no replays."""
    clock: Callable[[], datetime] = _utc_now
    """What time it is for overdue and due-soon (the tracker's clock; tests share a manual one)."""
    sessions: Sessions = field(default_factory=Sessions)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    log: RoutingLog = field(default_factory=RoutingLog)
    follow: bool = True
    """Follow rb.routing-log (False: the log is filled by the caller, as the benchmark does)."""
    follower: RoutingLogFollower | None = None
    router_shards: int = 1
    """RB_ROUTER_SHARDS: health shows every shard's queue, and the router up while each has one."""
    _cache: dict[Any, tuple[float, Any]] = field(default_factory=dict)
    _computing: dict[Any, threading.Lock] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, key: Any, ttl_s: float, compute: Callable[[], Any]) -> Any:
        """`compute()`, or its value of less than `ttl_s` ago for the same key: the figures of a
        second ago serve every operator who asks within it. Keys carry the clock's second, so a
        moved clock is a new key. One request computes a key while the others asking for it wait
        for its value: 50 operators turning to a new second would otherwise compute it 50 times."""
        with self._cache_lock:
            if len(self._computing) > 2000:  # one lock per key asked, whether its compute() failed or not
                self._computing = {}
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            now = time.monotonic()
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < ttl_s:
                return hit[1]
            value = compute()
            with self._cache_lock:
                if len(self._cache) > 1000:
                    self._cache.clear()
                self._cache[key] = (now, value)
            return value

    def trail(self, session: Session, url: str | None = None) -> OperatorTrail:
        return OperatorTrail(self.engine, console_actor(session.operator.login, url or self.amqp_url))


class NeedLogin(Exception):
    """No live session: pages go to the login form, live fragments answer 401."""


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the package: no stat of each file per page
    )
    env.filters["urlquote"] = lambda v: quote(str(v), safe="")
    env.globals["urlencode"] = urlencode
    return env


def create_app(console: Console) -> Starlette:
    env = templates()

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        html = env.get_template(name).render(request=request, session=session, **context)
        return HTMLResponse(html, status_code=status)

    def session_of(request: Request) -> Session:
        session = console.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise NeedLogin
        request.state.session = session
        return session

    def page(handler: Callable[..., Any]) -> Callable[[Request], Response]:
        """A page that needs a session; the handler gets (request, session) and returns a response
        or (template, context)."""

        def endpoint(request: Request) -> Response:
            session = session_of(request)
            result = handler(request, session)
            if isinstance(result, Response):
                return result
            name, context = result
            return render(request, name, **context)

        return endpoint

    routes: list[BaseRoute] = [*login.routes(console, render), *pages.routes(console, page, render, env)]
    routes += [Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]

    def need_login(request: Request, exc: Exception) -> Response:
        if request.url.path.endswith("/rows") or request.headers.get("accept") == "application/json":
            return JSONResponse({"error": "log in again"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.endswith("/rows"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return render(
            request, "error.html", status=exc.status_code, status_code=exc.status_code, detail=exc.detail
        )

    def broker_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, OperatorError):
            detail = str(exc)
        else:
            detail = (
                f"the broker could not be reached or closed the connection ({type(exc).__name__}); try again"
            )
        return render(request, "error.html", status=503, status_code=503, detail=detail)

    handlers: dict[Any, Callable[[Request, Exception], Response]] = {
        NeedLogin: need_login,
        HTTPException: http_error,
        OperatorError: broker_error,
    }
    handlers.update({kind: broker_error for kind in BROKER_ERRORS})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not console.follow:
            yield
            return
        console.follower = RoutingLogFollower(console.amqp_url, console.log.append)
        console.follower.start()
        try:
            yield
        finally:
            console.follower.stop()

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(GZipMiddleware, minimum_size=1024, compresslevel=GZIP_LEVEL),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )


SECURITY_HEADERS = [
    # the pages are the console's own: no framing, no outside scripts or styles, nothing cached
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds SECURITY_HEADERS and a Server-Timing figure (the app's time in ms) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                names = {k for k, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *SECURITY_HEADERS, (b"server-timing", took)]
            await send(message)

        await self.app(scope, receive, sending)


def serve(console: Console, host: str, port: int) -> None:
    """Serve the console until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(console),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # an access log would hold case numbers from URLs; the audit trail has them
        timeout_graceful_shutdown=5,
    )


class InThread:
    """The console served from a thread of another program (the demo's --keep), until stop()."""

    def __init__(self, console: Console, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(
            create_app(console),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self.console = console
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    def start(self, timeout_s: float = 20.0) -> None:
        """Serve, and return once the port is open and the routing log followed (or raise)."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not (self._server.started and self.console.follower is not None):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console did not start (is the port taken?)")
            time.sleep(0.05)
        if not self.console.follower.bound.wait(max(0.0, deadline - time.monotonic())):
            self.stop()
            raise RuntimeError(
                f"the console could not follow the routing log: {self.console.follower.last_error}"
            )

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
