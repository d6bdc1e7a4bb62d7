"""`python -m broker.tools.bench.profiled STATS_FILE ARGS…`: `referral-broker ARGS…` under cProfile,
timed by the process's own CPU clock (so time spent waiting for the broker does not count), with
the router's modules imported and its start-up caches made before profiling starts (start-up is
not what is measured: the log scrubber's digit table and the contract's field names took a fifth
of a 10,000-message profile). The
statistics are written to STATS_FILE when the command returns (the router returns on SIGTERM)."""

from __future__ import annotations

import cProfile
import sys
import time

# imported before profiling starts: start-up is not what is measured
import broker.router.service
import broker.store.memory  # noqa: F401
from broker import logs
from broker.cli.main import main
from broker.domain.validation import contract_names


def profiled(stats_file: str, argv: list[str]) -> int:
    logs.configure()  # its digit table, which main() would make under the profiler
    contract_names()
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        return main(argv)
    finally:
        profile.disable()
        profile.dump_stats(stats_file)


if __name__ == "__main__":
    sys.exit(profiled(sys.argv[1], sys.argv[2:]))
