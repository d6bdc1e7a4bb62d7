"""`python -m broker.tools.bench.profiled STATS_FILE ARGS…`: `referral-broker ARGS…` under cProfile,
timed by the process's own CPU clock (so time spent waiting for the broker does not count), with
the router's modules imported before profiling starts (start-up is not what is measured). The
statistics are written to STATS_FILE when the command returns (the router returns on SIGTERM)."""

from __future__ import annotations

import cProfile
import sys
import time

# imported before profiling starts: start-up is not what is measured
import broker.router.service
import broker.store.memory  # noqa: F401
from broker.cli.main import main


def profiled(stats_file: str, argv: list[str]) -> int:
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        return main(argv)
    finally:
        profile.disable()
        profile.dump_stats(stats_file)


if __name__ == "__main__":
    sys.exit(profiled(sys.argv[1], sys.argv[2:]))
