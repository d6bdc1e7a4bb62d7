#!/bin/sh
# One-shot `secrets` service of compose.yaml: generate the stack's own secrets into the `secrets`
# volume on first start, keep them on every later start. Nothing secret is committed or typed by
# hand. Each service mounts only its own subdirectory (compose `volume.subpath`), so a router or a
# tracker never sees the administrator's password, the Erlang cookie or any participant's password.
#
#   rabbitmq/erlang-cookie      the RabbitMQ nodes' shared Erlang cookie
#   rabbitmq/admin.json         {"referral-admin": "..."}: the administrator, created on a blank node
#   postgres/postgres-password  password of the PostgreSQL user `referral` (read by the postgres image)
#   provision/admin.json        the same administrator, for `provision` (and `tail`)
#   provision/inbox-secret      the deployment's inbox secret: inbox names are HMACs of it
#   router/pgpass, tracker/pgpass
#                               the PostgreSQL password in libpq's password-file format, found
#                               through PGPASSFILE, so no database URL carries a password
#
# `referral-broker provision` then writes provision/credentials.json (every participant's password
# and inbox name, for hand-over) and, through --service-credentials, router/credentials.json and
# tracker/credentials.json, each holding that worker's own RabbitMQ user only.
#
# A volume written by an earlier version (every file at the top) is moved into this layout, keeping
# its secrets. SECRETS_DIR (default /secrets) lets the tests run the script outside a container.
set -eu

umask 077
cd "${SECRETS_DIR:-/secrets}"

new_secret() {
    python -c 'import secrets; print(secrets.token_urlsafe(32))'
}

# move $1 to $2 unless $2 already holds a secret
adopt() {
    if [ -s "$1" ] && [ ! -s "$2" ]; then mv "$1" "$2"; fi
    rm -f "$1"
}

mkdir -p rabbitmq postgres provision router tracker
adopt erlang-cookie rabbitmq/erlang-cookie
adopt postgres-password postgres/postgres-password
adopt admin.json provision/admin.json
adopt credentials.json provision/credentials.json
rm -f pgpass

[ -s rabbitmq/erlang-cookie ] || new_secret | tr -d '\n' > rabbitmq/erlang-cookie
[ -s postgres/postgres-password ] || new_secret | tr -d '\n' > postgres/postgres-password
[ -s provision/inbox-secret ] || new_secret | tr -d '\n' > provision/inbox-secret
if [ ! -s provision/admin.json ]; then
    python -c 'import json, secrets; print(json.dumps({"referral-admin": secrets.token_urlsafe(32)}))' \
        > provision/admin.json
fi
cp provision/admin.json rabbitmq/admin.json
for worker in router tracker; do
    printf '*:*:*:referral:%s\n' "$(cat postgres/postgres-password)" > "$worker/pgpass"
done

chmod 0700 . rabbitmq postgres provision router tracker
find . -type f -exec chmod 0600 {} +
if [ "$(id -u)" = 0 ]; then
    # the RabbitMQ nodes' entry point reads its files as root; the postgres image reads its
    # password file as its own postgres user (uid 999); our image runs as uid 10001
    chown -R 0:0 rabbitmq
    chown -R 999:999 postgres
    chown -R 10001:10001 provision router tracker
fi
echo "secrets ready: $(find . -type f | sort | tr '\n' ' ')"
