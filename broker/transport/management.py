"""RabbitMQ's HTTP API: users, permissions and vhosts. Only provisioning and tests use it."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from broker.settings import Settings
from broker.transport.tls import client_context

_READ_RETRY_WAITS_S = (0.1, 0.3, 1.0)
"""Waits before asking again after a read answered with a server error (see Management._call)."""


PAGE_SIZE = 500
"""The management API's largest page."""


class ManagementError(RuntimeError):
    pass


class Management:
    """A thin client of the management plugin's HTTP API (https://www.rabbitmq.com/docs/http-api-reference)."""

    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        self._nodes = list(settings.api_urls)
        """Every node's API; the first is asked, and one that does not answer goes to the back."""
        # HTTPS is verified against RB_TLS_CA_FILE (or the system's store), as AMQPS is
        verify = client_context(settings.tls)
        self._client = httpx.Client(auth=settings.admin_credentials, timeout=timeout, verify=verify)
        self._timeout_s = timeout

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Management:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._send(method, path, body)
        for wait_s in _READ_RETRY_WAITS_S:
            # A listing races the users and vhosts other clients delete meanwhile: RabbitMQ answers
            # 500 when an entry vanishes while it is read. A read asks again; a write never does.
            if method != "GET" or response.status_code < 500:
                break
            time.sleep(wait_s)
            response = self._send(method, path, body)
        if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
            raise ManagementError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    def _send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Ask the first node that answers (any node's API speaks for the whole cluster). Every
        call here is idempotent, so one cut off mid-request is simply sent to the next node."""
        last = ""
        for _ in range(len(self._nodes)):
            try:
                return self._client.request(method, self._nodes[0] + path, json=body)
            except httpx.TimeoutException:
                last = f"; the last did not answer within {self._timeout_s:.0f} s"
            except httpx.TransportError:
                last = ""
            self._nodes.append(self._nodes.pop(0))
        raise ManagementError(f"{method} {path}: no management API answered ({len(self._nodes)} tried{last})")

    def put_vhost(self, vhost: str) -> None:
        self._call("PUT", f"/api/vhosts/{quote(vhost, safe='')}", {})

    def delete_vhost(self, vhost: str) -> None:
        self._call("DELETE", f"/api/vhosts/{quote(vhost, safe='')}")

    def user_exists(self, name: str) -> bool:
        response = self._send("GET", f"/api/users/{quote(name, safe='')}")
        return response.status_code == 200

    def put_user(self, name: str, password: str | None, tags: str = "") -> None:
        body: dict[str, Any] = {"tags": tags}
        if password is None:
            body["password_hash"] = ""  # no password: cannot log in until one is set
        else:
            body["password"] = password
        self._call("PUT", f"/api/users/{quote(name, safe='')}", body)

    def set_tags(self, name: str, tags: str) -> None:
        """Change a user's tags and keep its password."""
        current = self._call("GET", f"/api/users/{quote(name, safe='')}")
        body = {
            "tags": tags,
            "password_hash": current["password_hash"],
            "hashing_algorithm": current["hashing_algorithm"],
        }
        self._call("PUT", f"/api/users/{quote(name, safe='')}", body)

    def delete_user(self, name: str) -> None:
        self._call("DELETE", f"/api/users/{quote(name, safe='')}")

    def users(self) -> list[str]:
        return [u["name"] for u in self._call("GET", "/api/users")]

    def set_permissions(self, vhost: str, user: str, configure: str, write: str, read: str) -> None:
        path = f"/api/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}"
        self._call("PUT", path, {"configure": configure, "write": write, "read": read})

    def set_user_limit(self, user: str, limit: str, value: int) -> None:
        """A per-user limit, `max-connections` or `max-channels` (RabbitMQ 3.8.10 and later):
        https://www.rabbitmq.com/docs/user-limits"""
        path = f"/api/user-limits/{quote(user, safe='')}/{quote(limit, safe='')}"
        self._call("PUT", path, {"value": value})

    def user_limits(self, user: str) -> dict[str, int]:
        found: list[dict[str, Any]] = self._call("GET", f"/api/user-limits/{quote(user, safe='')}")
        return {str(k): int(v) for item in found for k, v in item.get("value", {}).items()}

    def queue(self, vhost: str, name: str) -> dict[str, Any] | None:
        response = self._send("GET", f"/api/queues/{quote(vhost, safe='')}/{quote(name, safe='')}")
        return response.json() if response.status_code == 200 else None

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/api/queues/{quote(vhost, safe='')}")
        return result

    def queue_names(self, vhost: str, pattern: str) -> list[str]:
        """Names of the vhost's queues matching a regular expression, asked a page at a time with
        the name only: the broker filters, and reads no statistics but a page's (a vhost of a
        national deployment lists tens of thousands of queues, too many to read whole in time)."""
        names: list[str] = []
        page, pages = 1, 1
        while page <= pages:
            query = urlencode(
                {
                    "page": page,
                    "page_size": PAGE_SIZE,
                    "name": pattern,
                    "use_regex": "true",
                    "columns": "name",
                    "pagination": "true",
                }
            )
            answer = self._call("GET", f"/api/queues/{quote(vhost, safe='')}?{query}")
            names += [item["name"] for item in answer["items"]]
            pages = int(answer["page_count"])
            page += 1
        return names


@contextmanager
def scratch_vhost(settings: Settings, label: str) -> Iterator[Settings]:
    """A fresh vhost and user prefix on the same broker, deleted with its users afterwards.

    Tests and benchmarks use it so that they leave no queues, users or vhosts behind.
    """
    tag = uuid.uuid4().hex[:10]
    vhost = f"rb-{label}-{tag}"
    prefix = f"{label[0]}{tag}."
    user, _ = settings.admin_credentials
    scratch = replace(
        settings.in_vhost(vhost),
        database_url="sqlite://",
        user_prefix=prefix,
        inbox_secret=secrets.token_urlsafe(32),  # the scratch deployment's own
        inbox_secret_file="",
    )
    with Management(scratch) as api:
        api.put_vhost(vhost)
        api.set_permissions(vhost, user, ".*", ".*", ".*")
        try:
            yield scratch
        finally:
            for name in api.users():
                if name.startswith(prefix):
                    api.delete_user(name)
            api.delete_vhost(vhost)
