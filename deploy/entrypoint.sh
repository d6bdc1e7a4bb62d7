#!/bin/sh
# Entry point of the referral-broker image: give the command the AMQP URL of one RabbitMQ user
# whose password `provision` generated, then run the command.
#
#   CREDENTIALS_USER   the RabbitMQ user to connect as, e.g. referral-router or system-000000
#                      (with RB_USER_PREFIX in front when one is set); unset: RB_AMQP_URL is used
#                      as it is
#   CREDENTIALS_FILE   the credentials file (mode 600) `referral-broker provision` writes, or a
#                      JSON object {user: password}; default /secrets/credentials.json, in the
#                      router's and the tracker's containers their own user's entry alone
#   RB_AMQP_URL        the broker without credentials, e.g. amqp://rabbitmq:5672/; the user and
#                      password are put into it (same host, port and vhost)
#
# Example: CREDENTIALS_USER=referral-router entrypoint.sh referral-broker route
set -eu

if [ -n "${CREDENTIALS_USER:-}" ]; then
    RB_AMQP_URL="$(python - <<'PY'
import os
import sys

from broker import credentials
from broker.settings import Settings

user = os.environ["CREDENTIALS_USER"]
path = os.environ.get("CREDENTIALS_FILE") or "/secrets/credentials.json"
if not os.path.exists(path):
    sys.exit(f"entrypoint: {path} does not exist; run the provision service first")
try:
    password = credentials.for_user(user, path).password
except credentials.CredentialsError as exc:
    sys.exit(
        f"entrypoint: {exc}. provision writes only passwords it sets; to reset them all: "
        f"referral-broker provision FILE --credentials-out {path} --rotate-passwords"
    )
print(Settings().amqp_url_for(user, password))
PY
)"
    export RB_AMQP_URL
fi

# Metrics ports bind to 127.0.0.1 outside a container; inside, Prometheus scrapes over the compose
# network (the ports are not published), so they listen on the container's interfaces.
export RB_METRICS_HOST="${RB_METRICS_HOST:-0.0.0.0}"
exec "$@"
