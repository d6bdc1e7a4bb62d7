#!/bin/sh
# Entry point of the referral-broker image: give the command the AMQP URL of one RabbitMQ user
# whose password `provision` generated, then run the command.
#
#   CREDENTIALS_USER   the RabbitMQ user to connect as, e.g. referral-router or system-000000
#                      (with RB_USER_PREFIX in front when one is set); unset: RB_AMQP_URL is used
#                      as it is
#   CREDENTIALS_FILE   JSON object {user: password}; default /secrets/credentials.json, which
#                      `referral-broker provision --credentials-out` writes
#   RB_AMQP_URL        the broker without credentials, e.g. amqp://rabbitmq:5672/; the user and
#                      password are put into it (same host, port and vhost)
#
# Example: CREDENTIALS_USER=referral-router entrypoint.sh referral-broker route
set -eu

if [ -n "${CREDENTIALS_USER:-}" ]; then
    RB_AMQP_URL="$(python - <<'PY'
import json
import os
import sys

from broker.settings import Settings

user = os.environ["CREDENTIALS_USER"]
path = os.environ.get("CREDENTIALS_FILE") or "/secrets/credentials.json"
try:
    with open(path, encoding="utf-8") as f:
        passwords = json.load(f)
except FileNotFoundError:
    sys.exit(f"entrypoint: {path} does not exist; run the provision service first")
if user not in passwords:
    sys.exit(
        f"entrypoint: {path} has no password for {user}. provision writes only passwords it sets; "
        "to reset them all: referral-broker provision FILE --credentials-out "
        f"{path} --rotate-passwords"
    )
print(Settings().amqp_url_for(user, passwords[user]))
PY
)"
    export RB_AMQP_URL
fi

exec "$@"
