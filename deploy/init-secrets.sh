#!/bin/sh
# One-shot `secrets` service of compose.yaml: generate the stack's own secrets into /secrets on
# first start, keep them on every later start. Nothing secret is committed or typed by hand.
#
#   erlang-cookie       the RabbitMQ nodes' shared Erlang cookie
#   admin.json          {"referral-admin": "..."}: RabbitMQ administrator (used by `provision`)
#   postgres-password   password of the PostgreSQL user `referral` (read by the postgres image)
#   pgpass              the same password in libpq's password-file format, found by the router and
#                       the tracker through PGPASSFILE, so no database URL carries a password
#
# /secrets also receives credentials.json from `referral-broker provision` (participant and
# router passwords). Runs as root so it can hand the directory to the broker user (uid 10001).
set -eu

umask 077
cd /secrets

new_secret() {
    python -c 'import secrets; print(secrets.token_urlsafe(32))'
}

[ -s erlang-cookie ] || new_secret | tr -d '\n' > erlang-cookie
[ -s postgres-password ] || new_secret | tr -d '\n' > postgres-password
printf '*:*:*:referral:%s\n' "$(cat postgres-password)" > pgpass
if [ ! -s admin.json ]; then
    python -c 'import json, secrets; print(json.dumps({"referral-admin": secrets.token_urlsafe(32)}))' > admin.json
fi

chown -R 10001:10001 /secrets
chmod 0700 /secrets
chmod 0600 /secrets/*
echo "secrets ready in /secrets: $(ls /secrets | tr '\n' ' ')"
