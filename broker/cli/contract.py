"""`validate` and `export-schemas`: message files against the contract, the contract against the models."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from broker.settings import Settings

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from broker.domain.validation import ContractError, parse_message

    failed = 0
    for name in args.files:
        try:
            message = parse_message(Path(name).read_bytes())
            print(f"{name}: valid {message.envelope.kind.value}")
        except ContractError as exc:
            failed += 1
            for error in exc.errors:
                print(f"{name}: {error}")
    return 1 if failed else 0


def cmd_export_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from broker.tools.contract import drift, export

    root = Path(args.dir)
    if args.check:
        problems = drift(root)
        for problem in problems:
            print(problem)
        if problems:
            print("the contract drifted: run `referral-broker export-schemas` and commit the result")
            return 1
        print("schemas and examples match the models")
        return 0
    written = export(root)
    print(f"wrote {len(written)} files under {root}" if written else "schemas already up to date")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("validate", help="check message files against the contract")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export-schemas", help="write JSON Schemas and examples generated from the models")
    p.add_argument("--dir", default=str(SCHEMAS_DIR), help="schemas folder (default: the repository's)")
    p.add_argument("--check", action="store_true", help="only report drift; exit 1 when files differ")
    p.set_defaults(func=cmd_export_schemas)
