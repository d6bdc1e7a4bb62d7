"""CLI for participants' keys and the key directory: `referral-broker keys ...`.

A participant runs `keys generate` on its own machine and hands over only the public keys file; the
operator who provisions builds and signs the directory with the deployment's key and publishes it
with the deployment's public key. Every refusal is one line naming the file or field and the reason.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broker.settings import Settings

EXIT_REFUSED = 2


def _public_path(keyring: Path) -> Path:
    name = keyring.name.removesuffix(".keyring.json")
    return keyring.with_name(f"{name}.public.json")


def _file_stem(address: str) -> str:
    return address.replace(":", "-")


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from broker.sealing import keys
    from broker.sealing.encoding import timestamp
    from broker.sealing.errors import SealingError
    from broker.sealing.suites import suite

    the_suite = suite(args.suite, "--suite")
    now = datetime.now(UTC)
    ring = keys.generate(args.address, the_suite, now, timedelta(days=args.valid_days))
    folder = Path(args.dir)
    path = folder / f"{_file_stem(ring.address)}.keyring.json"
    if path.exists():
        raise SealingError(str(path), "exists; `referral-broker keys rotate` adds a new generation to it")
    folder.mkdir(parents=True, exist_ok=True)
    keys.save_keyring(ring, path)
    keys.save_public(ring.public(), _public_path(path))
    g = ring.generations[-1].public
    print(f"{ring.address}: {the_suite.id} keys valid until {timestamp(g.not_after)}")
    print(f"  encryption {g.encryption.kid}\n  signing    {g.signing.kid}")
    print(f"private key ring {path} (mode 600: keep it on this machine)")
    print(f"public keys {_public_path(path)} (hand this one to whoever provisions)")
    return 0


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from broker.sealing import keys
    from broker.sealing.suites import suite

    path = Path(args.keyring)
    ring = keys.load_keyring(path)
    the_suite = suite(args.suite, "--suite") if args.suite else ring.generations[-1].public.suite
    ring = ring.rotated(the_suite, datetime.now(UTC), timedelta(days=args.valid_days))
    keys.save_keyring(ring, path)
    keys.save_public(ring.public(), _public_path(path))
    g = ring.generations[-1].public
    print(f"{ring.address}: new {the_suite.id} keys, {len(ring.generations)} generations kept")
    print(f"  encryption {g.encryption.kid}\n  signing    {g.signing.kid}")
    print(f"public keys {_public_path(path)}: rebuild the key directory with it")
    return 0


def cmd_deployment_generate(args: argparse.Namespace, settings: Settings) -> int:
    from broker.sealing import keys
    from broker.sealing.errors import SealingError
    from broker.sealing.suites import suite

    the_suite = suite(args.suite, "--suite")
    path, public = Path(args.out), Path(args.public_out)
    if path.exists():
        raise SealingError(str(path), "exists; a new deployment key makes every participant re-pin it")
    key = keys.generate_deployment_key(the_suite)
    keys.save_deployment_key(key, path, public)
    print(f"deployment key {key.signing.kid} ({the_suite.id})")
    print(f"private {path} (mode 600), public {public} (give it to every participant)")
    return 0


def cmd_directory_build(args: argparse.Namespace, settings: Settings) -> int:
    from broker.sealing import directory, keys

    deployment = keys.load_deployment_key(args.deployment_key)
    now = datetime.now(UTC)
    previous = directory.load(args.previous, deployment) if args.previous else None
    generations = {g.signing.kid: g for g in (previous.entries if previous else ())}
    for name in args.public_files:
        for g in directory.carried(previous, keys.load_public(name)):
            generations[g.signing.kid] = g
    built, _ = directory.build(generations.values(), deployment, now)
    for kid in args.revoke:
        built = built.revoked(kid, now)
    document = directory.sign(built, deployment)
    directory.save(document, args.out)
    revoked = sum(1 for g in built.entries if g.revoked_at is not None)
    addresses = len({g.address for g in built.entries})
    print(f"{args.out}: {len(built.entries)} key generations of {addresses} participants, {revoked} revoked")
    print(f"signed by the deployment key {deployment.signing.kid}")
    return 0


def cmd_directory_verify(args: argparse.Namespace, settings: Settings) -> int:
    from broker.sealing import directory, keys
    from broker.sealing.encoding import parse_timestamp, timestamp

    trusted = keys.load_deployment_public(args.deployment_public)
    found = directory.load(args.file, trusted)
    at = parse_timestamp(args.at, "--at") if args.at else datetime.now(UTC)
    print(f"{args.file}: signature verified with {trusted.signing.kid}, issued {timestamp(found.issued_at)}")
    unusable = 0
    for g in found.entries:
        refusal = g.refusal_at(at)
        unusable += refusal is not None
        state = refusal or f"valid until {timestamp(g.not_after)}"
        print(f"  {g.address} {g.suite.id} {g.signing.kid[:23]}…: {state}")
    usable = len(found.entries) - unusable
    print(f"{usable} usable, {unusable} revoked or outside their window at {timestamp(at)}")
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from broker.sealing.bench import render, run

    rows = run(args.seconds)
    print(render(rows))
    if args.json:
        print(json.dumps(rows))
    return 0


def register_at_provision(args: argparse.Namespace, addresses: list[str]) -> int:
    """`provision --public-keys DIR`: the participants' public keys files become the signed key
    directory the router checks sealed bodies against, keeping the revocations of the one before."""
    from broker.sealing import directory, keys, registration
    from broker.sealing.errors import SealingError

    out = Path(args.key_directory_out)
    try:
        deployment = keys.load_deployment_key(args.deployment_key)
        previous = directory.load(out, deployment) if out.exists() else None
        done = registration.register(args.public_keys, addresses, deployment, datetime.now(UTC), previous)
    except SealingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    directory.save(done.document, out)
    keyed = len(addresses) - len(done.missing)
    print(
        f"key directory written to {out}: keys of {keyed} of {len(addresses)} participants, signed by "
        f"{deployment.signing.kid}"
    )
    if done.missing:
        print(
            f"warning: {len(done.missing)} participants have no keys (e.g. {done.missing[0]}): nobody can "
            "seal for them, so messages the router would deliver to them are refused until they hand over "
            "theirs (`referral-broker keys generate`)",
            file=sys.stderr,
        )
    if done.unknown:
        print(
            f"warning: {len(done.unknown)} keys files name addresses that are not provisioned (e.g. "
            f"{done.unknown[0]}); they are in the directory but receive nothing",
            file=sys.stderr,
        )
    return 0


def _guard(command: Any) -> Any:
    """Refusals are one line; anything else is a bug and keeps its traceback (main's --debug)."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        from broker.sealing.errors import SealingError  # here: the sealing libraries load only for `keys`

        try:
            return int(command(args, settings))
        except SealingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_REFUSED

    return run


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of days") from None
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError("must be between 1 and 3650 days")
    return days


def add_commands(sub: Any) -> None:
    p = sub.add_parser("keys", help="participants' sealing and signing keys, and the signed key directory")
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    suites = "international (rb-intl-1: X25519, AES-256-GCM, Ed25519) or national (rb-sm-1: SM2, SM3, SM4)"

    p = keys_sub.add_parser(
        "generate", help="make a participant's key ring (private, mode 600) and public keys file"
    )
    p.add_argument("address", help="the participant, e.g. bureau:330681")
    p.add_argument("--suite", default="international", help=suites)
    p.add_argument("--dir", default=".", help="where ADDRESS.keyring.json and ADDRESS.public.json go")
    p.add_argument("--valid-days", type=_days, default=365, help="validity of the keys (default 365)")
    p.set_defaults(func=_guard(cmd_generate))

    p = keys_sub.add_parser("rotate", help="add a new key generation; old ones stay to open old messages")
    p.add_argument("keyring", help="the participant's .keyring.json")
    p.add_argument("--suite", help="suite of the new keys (default: that of the newest generation)")
    p.add_argument("--valid-days", type=_days, default=365, help="validity of the new keys (default 365)")
    p.set_defaults(func=_guard(cmd_rotate))

    p = keys_sub.add_parser("deployment", help="the deployment's key, which signs the key directory")
    dep = p.add_subparsers(dest="deployment_command", required=True, metavar="ACTION")
    p = dep.add_parser("generate", help="make the deployment key (private, mode 600) and its public file")
    p.add_argument("--suite", default="international", help=suites)
    p.add_argument("--out", default="deployment.key.json")
    p.add_argument("--public-out", default="deployment.public.json")
    p.set_defaults(func=_guard(cmd_deployment_generate))

    p = keys_sub.add_parser("directory", help="build and sign, or verify, the key directory")
    dsub = p.add_subparsers(dest="directory_command", required=True, metavar="ACTION")
    p = dsub.add_parser("build", help="sign a directory of participants' public keys files")
    p.add_argument("public_files", nargs="*", help="participants' .public.json files")
    p.add_argument("--deployment-key", required=True, metavar="FILE", help="the deployment key (mode 600)")
    p.add_argument("--out", default="key-directory.json")
    p.add_argument(
        "--from",
        dest="previous",
        metavar="FILE",
        help="the current directory: its entries and revocations are kept",
    )
    p.add_argument(
        "--revoke",
        action="append",
        default=[],
        metavar="KID",
        help="revoke the generation holding this key, now",
    )
    p.set_defaults(func=_guard(cmd_directory_build))
    p = dsub.add_parser("verify", help="check a directory's signature and list its keys' state")
    p.add_argument("file")
    p.add_argument(
        "--deployment-public", required=True, metavar="FILE", help="the deployment's public key file"
    )
    p.add_argument("--at", help="the time to judge validity at (default now), e.g. 2026-01-31T08:00:00Z")
    p.set_defaults(func=_guard(cmd_directory_verify))

    p = keys_sub.add_parser(
        "bench", help="µs per message to seal and sign, verify and open, per suite (1 and 3 recipients)"
    )
    p.add_argument("--seconds", type=float, default=1.0, help="time spent on each figure (default 1)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    p.set_defaults(func=_guard(cmd_bench))
