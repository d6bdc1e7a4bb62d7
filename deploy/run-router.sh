#!/usr/bin/env bash
# Run the router for real on one machine: virtualenv, topology, participants, then the router.
# The participants file decides how many quorum inboxes the broker must hold (one each).
# Usage: bash deploy/run-router.sh [participants-file]
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib.sh
ensure_venv
ensure_rabbitmq_management
PARTICIPANTS="${1:-deploy/participants.sample.txt}"
CREDENTIALS="${RB_CREDENTIALS:-deploy/credentials.local.json}"
RB="$PWD/.venv/bin/referral-broker"
"$RB" declare
rotate=""
[ -f "$CREDENTIALS" ] || rotate="--rotate-passwords"  # passwords are only known when (re)set
"$RB" provision "$PARTICIPANTS" --credentials-out "$CREDENTIALS" $rotate
export RB_PARTICIPANTS="$PARTICIPANTS"
router_url=$(.venv/bin/python -c "import json,sys; from broker.settings import Settings; c=json.load(open(sys.argv[1])); print(Settings().amqp_url_for('referral-router', c['referral-router']))" "$CREDENTIALS")
echo "router starting; follow it with: .venv/bin/referral-broker tail"
RB_AMQP_URL="$router_url" exec "$RB" route
