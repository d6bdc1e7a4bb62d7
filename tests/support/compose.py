"""deploy/compose.yaml as the deploy tests read it: its services, their environment and their mounts
of the secrets volume, and what the one-shot services write into that volume."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

RABBITMQ_NODES = ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3")
BROKER_IMAGE = "referral-broker:local"


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def broker_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("image") == BROKER_IMAGE}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


SECRETS_VOLUME = "secrets"
CERTIFICATE_FILES = {
    "rabbitmq": {"tls/ca.pem", "tls/server.pem", "tls/server-key.pem"},
    "provision": {"tls/ca.pem"},
    "router": {"tls/ca.pem"},
    "tracker": {"tls/ca.pem"},
}
"""What the `certificates` service (deploy/rabbitmq/make-certificates.sh) adds; its CA key stays in
tls-ca/, which no other service mounts."""
GENERATORS = {"secrets", "certificates"}
"""The one-shot services that write the whole volume."""


def secret_mounts(service: dict[str, Any]) -> list[tuple[str | None, str, bool]]:
    """(subpath or None for the whole volume, target, read-only) of each mount of the secrets volume."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *options = volume.split(":")
            if source == SECRETS_VOLUME:
                found.append((None, target, "ro" in options))
        elif volume.get("source") == SECRETS_VOLUME:
            subpath = (volume.get("volume") or {}).get("subpath")
            found.append((subpath, volume["target"], bool(volume.get("read_only"))))
    return found
