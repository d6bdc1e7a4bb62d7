#!/usr/bin/env bash
# Entry point of the RabbitMQ nodes in compose.yaml: installs the generated cluster secrets, then
# hands over to the image's own docker-entrypoint.sh. Runs as root (the image's default user);
# docker-entrypoint.sh drops to the rabbitmq user.
#
# /secrets/erlang-cookie        the shared Erlang cookie. It goes to the rabbitmq user's cookie file,
#                               which the server and the CLI tools (healthcheck, `docker compose
#                               exec rabbitmq-1 rabbitmqctl ...`) both read.
# /secrets/admin.json           {"referral-admin": "<password>"}: the default user's password, used
#                               only when a node initialises a blank database.
# /secrets/tls/                 ca.pem, server.pem, server-key.pem from the `certificates` service
#                               (make-certificates.sh), installed where rabbitmq.conf names them.
set -euo pipefail

cookie_file=/var/lib/rabbitmq/.erlang.cookie
install -o rabbitmq -g rabbitmq -m 0400 /secrets/erlang-cookie "$cookie_file"

install -d -o rabbitmq -g rabbitmq -m 0500 /etc/rabbitmq/tls
install -o rabbitmq -g rabbitmq -m 0444 /secrets/tls/ca.pem /secrets/tls/server.pem /etc/rabbitmq/tls/
install -o rabbitmq -g rabbitmq -m 0400 /secrets/tls/server-key.pem /etc/rabbitmq/tls/

RABBITMQ_DEFAULT_PASS="$(sed -n 's/.*"referral-admin": *"\([^"]*\)".*/\1/p' /secrets/admin.json)"
if [ -z "$RABBITMQ_DEFAULT_PASS" ]; then
    echo "rabbitmq entrypoint: no password for referral-admin in /secrets/admin.json" >&2
    exit 1
fi
export RABBITMQ_DEFAULT_PASS

exec docker-entrypoint.sh "$@"
