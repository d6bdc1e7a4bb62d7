#!/usr/bin/env bash
# The test command: a clean virtualenv from pyproject.toml, then the whole suite against the
# RabbitMQ in RB_AMQP_URL (default: the local one) and PostgreSQL where a test needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
ensure_venv
ensure_rabbitmq_management
# the contract checks' Node tools (tests/unit/test_node_contract.py), once; .ci/run always runs npm ci
if command -v npm >/dev/null && [ ! -d tests/node/node_modules ]; then
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi
exec .venv/bin/python -m pytest "$@"
