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
# The inbox secret names the inboxes (README, "Who may do what"): made once, kept beside the
# credentials, mode 600.
if [ -z "${RB_INBOX_SECRET:-}" ]; then
    export RB_INBOX_SECRET_FILE="${RB_INBOX_SECRET_FILE:-deploy/inbox-secret.local}"
    if [ ! -s "$RB_INBOX_SECRET_FILE" ]; then
        (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$RB_INBOX_SECRET_FILE")
    fi
fi
"$RB" declare
rotate=""
[ -f "$CREDENTIALS" ] || rotate="--rotate-passwords"  # passwords are only known when (re)set
"$RB" provision "$PARTICIPANTS" --credentials-out "$CREDENTIALS" $rotate
export RB_PARTICIPANTS="$PARTICIPANTS"
# the router's user carries RB_USER_PREFIX like every user provision makes (a shared broker)
router_user="${RB_USER_PREFIX:-}referral-router"
router_url=$(.venv/bin/python -c "import sys; from broker import credentials; from broker.settings import Settings; print(Settings().amqp_url_for(sys.argv[2], credentials.for_user(sys.argv[2], sys.argv[1]).password))" "$CREDENTIALS" "$router_user")
# Sealed bodies need each participant's keys in a signed directory (README, "Sealed bodies"); this
# one-machine run takes plaintext bodies unless told otherwise: the transitional mode, said aloud.
export RB_BODIES="${RB_BODIES:-transitional}"
[ "$RB_BODIES" = transitional ] && echo "RB_BODIES=transitional: the router takes and reads plaintext bodies (not for production)"
echo "router starting; follow it with: .venv/bin/referral-broker tail"
RB_AMQP_URL="$router_url" exec "$RB" route
