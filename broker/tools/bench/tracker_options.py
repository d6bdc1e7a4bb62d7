"""The options of `referral-broker tracker-bench` (broker/tools/bench/tracker.py), apart from the
benchmark itself: every command's parser is built on each run of the CLI, and the benchmark brings
the database libraries, which only it needs."""

from __future__ import annotations

import argparse

DESCRIPTION = (
    "Benchmark the tracker on SQLite and PostgreSQL: acknowledgements ingested per second, and one scan "
    "with 1,000,000 open obligations. Prints figures."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--obligations", type=int, default=1_000_000, help="open obligations (default 1,000,000)"
    )
    parser.add_argument("--due", type=int, default=1000, help="of which due for a notice now (default 1,000)")
    parser.add_argument("--acks", type=int, default=3000, help="acknowledgements to ingest (default 3,000)")
    parser.add_argument(
        "--databases", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
