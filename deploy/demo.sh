#!/usr/bin/env bash
# The main job: set up the virtualenv and replay the 2019 campaign through the real broker.
# Usage: bash deploy/demo.sh [referral-broker demo options, e.g. --cases 500 --json]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
ensure_venv
ensure_rabbitmq_management
exec .venv/bin/referral-broker demo "$@"
