#!/usr/bin/env bash
# The test command: a clean virtualenv from pyproject.toml, then the whole suite against the
# RabbitMQ in RB_AMQP_URL (default: the local one) and PostgreSQL where a test needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
ensure_venv
ensure_rabbitmq_management
# the Node tools of the contract checks and the Node client test, whenever the lockfile is newer than
# what is installed; .ci/run always runs npm ci
if command -v npm >/dev/null && { [ ! -f tests/node/node_modules/.package-lock.json ] ||
    [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; }; then
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi
# With arguments: those tests on several workers (pytest-xdist; RB_TEST_WORKERS, default 4), one
# test file per worker at a time; `-n 0` among them runs in this process (for -s, pdb, or one test).
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest -n "${RB_TEST_WORKERS:-4}" --dist loadfile "$@"
fi
# Without: as .ci/run, the default suite on the workers, then the long fault tests (marker `slow`)
# and the three-node cluster test (`cluster`) one at a time
.venv/bin/python -m pytest -q --strict-markers -n "${RB_TEST_WORKERS:-4}" --dist loadfile
exec .venv/bin/python -m pytest -q --strict-markers -s -m "slow or cluster"
