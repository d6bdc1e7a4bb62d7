"""`demo --keep`: an operator console over the demo's deployment, from before the first message
(it follows the routing log from the start) until Ctrl-C after the summary.

It runs as the deployment's operator user, replays as its router user, and reads the tracker's
database in the work directory. Its one operator, `demo` (national), gets a random password that
is written to a mode-600 file in the work directory and never printed or put on a command line.
After the run its clock stops at the simulated end, so overdue and due-soon read as they did then.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broker.console.accounts import Accounts
from broker.console.app import Console, InThread
from broker.console.scope import Scope
from broker.credentials import write_private
from broker.participants import Participants
from broker.settings import Settings
from broker.store.tracker import db
from broker.transport.provision import OPERATOR_USER, ROUTER_USER

PORT = 8480
"""The console's port when it is free (the README's), else one the system picks."""
LOGIN = "demo"


@dataclass
class KeptConsole:
    server: InThread
    url: str
    login_file: Path

    @property
    def console(self) -> Console:
        return self.server.console

    def freeze(self, at: datetime) -> None:
        self.console.clock = lambda: at

    def hints(self) -> list[str]:
        return [
            f"  console:   {self.url}  (log in as {LOGIN!r}; the password is in {self.login_file}, mode 600)",
        ]

    def serve_until_interrupted(self, say: Callable[[str], None]) -> None:
        say(f"the console keeps running at {self.url}: Ctrl-C stops it")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            say("console stopped")
        finally:
            self.stop()

    def stop(self) -> None:
        self.server.stop()
        self.console.engine.dispose()


def _port(host: str) -> int:
    with socket.socket() as s:
        try:
            s.bind((host, PORT))
        except OSError:
            s.bind((host, 0))
        return int(s.getsockname()[1])


def start_console(
    scratch: Settings,
    participants: Participants,
    passwords: dict[str, str],
    clock: Callable[[], datetime],
    workdir: Path,
    host: str = "127.0.0.1",
) -> KeptConsole:
    def url(user: str) -> str:
        return scratch.amqp_url_for(user, passwords[user])

    password = secrets.token_urlsafe(18)
    accounts = Accounts(workdir / "console-operators.json")
    accounts.add(LOGIN, Scope(None), password)
    login_file = workdir / "console-login.txt"
    write_private(login_file, f"login: {LOGIN}\npassword: {password}\n")
    console = Console(
        url(f"{participants.user_prefix}{OPERATOR_USER}"),
        db.create(f"sqlite:///{workdir / 'tracker.sqlite3'}"),
        accounts,
        replay_url=url(f"{participants.user_prefix}{ROUTER_USER}"),
        clock=clock,
    )
    port = _port(host)
    server = InThread(console, host, port)
    server.start()
    return KeptConsole(server, f"http://{host}:{port}/", login_file)
