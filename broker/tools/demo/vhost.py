"""The demo's scratch vhost (as transport.management.scratch_vhost makes one): created for the run,
removed afterwards with its users unless kept. A failed removal is reported, never allowed to hide
the error that ended the run."""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx

from broker.settings import Settings
from broker.transport.management import Management, ManagementError

LABEL = "demo"
VHOST_PREFIX = f"rb-{LABEL}-"


def user_prefix(vhost: str) -> str:
    """The user-name prefix of a demo vhost's participants."""
    return f"{LABEL[0]}{vhost.removeprefix(VHOST_PREFIX)}."


@contextmanager
def demo_vhost(settings: Settings, keep: bool) -> Iterator[Settings]:
    vhost = f"{VHOST_PREFIX}{uuid.uuid4().hex[:10]}"
    user, _ = settings.admin_credentials
    scratch = replace(
        settings.in_vhost(vhost),
        user_prefix=user_prefix(vhost),
        inbox_secret=secrets.token_urlsafe(32),  # the run's own: its inboxes are named with it
        inbox_secret_file="",
    )
    with Management(scratch) as api:
        api.put_vhost(vhost)
        api.set_permissions(vhost, user, ".*", ".*", ".*")
    try:
        yield scratch
    finally:
        if not keep:
            try:
                remove_kept(settings, vhost)
            except (ManagementError, httpx.HTTPError) as exc:
                print(
                    f"warning: could not remove vhost {vhost!r} ({exc}); "
                    f"remove it later with: referral-broker demo --remove {vhost}",
                    file=sys.stderr,
                )


def remove_kept(settings: Settings, vhost: str) -> int:
    """Delete a demo vhost and its users; returns how many users were deleted."""
    if not vhost.startswith(VHOST_PREFIX):
        raise ValueError(f"{vhost!r} is not a demo vhost (they start with {VHOST_PREFIX!r})")
    prefix = user_prefix(vhost)
    deleted = 0
    with Management(settings) as api:
        for name in api.users():
            if name.startswith(prefix):
                api.delete_user(name)
                deleted += 1
        api.delete_vhost(vhost)
    return deleted
