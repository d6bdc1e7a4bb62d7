#!/usr/bin/env bash
# One-shot `certificates` service of compose.yaml: the compose stack's own certificate authority
# and the RabbitMQ nodes' server certificate, made on first start and kept afterwards (openssl
# from the RabbitMQ image). A real deployment uses its own CA instead (deploy/PRODUCTION.md, 2).
#
#   tls-ca/ca.pem, tls-ca/ca-key.pem   the CA; its key stays in this directory, which only this
#                                      service mounts
#   rabbitmq/tls/ca.pem, server.pem, server-key.pem
#                                      the nodes' certificate, for the names clients and nodes use
#                                      (rabbitmq, rabbitmq-1..3, localhost)
#   provision/tls/ca.pem, router/tls/ca.pem, tracker/tls/ca.pem
#                                      the CA alone, for RB_TLS_CA_FILE
#
# A participant's client certificate, for certificate login (EXTERNAL: the user is the CN):
#   docker compose -f deploy/compose.yaml run --rm certificates client bureau-330681
# writes tls-ca/clients/bureau-330681.pem and bureau-330681-key.pem; hand both over with ca.pem.
#
# SECRETS_DIR (default /secrets) lets the tests run the script outside a container.
set -euo pipefail

umask 077
cd "${SECRETS_DIR:-/secrets}"
mkdir -p tls-ca/clients rabbitmq/tls provision/tls router/tls tracker/tls

DAYS_CA=3650
DAYS_LEAF=825 # what browsers and most TLS stacks still accept for a leaf certificate
SERVER_NAMES="DNS:rabbitmq,DNS:rabbitmq-1,DNS:rabbitmq-2,DNS:rabbitmq-3,DNS:localhost,IP:127.0.0.1"

# issue NAME KEY CERT EXTENSIONS: a P-256 key and a certificate with CN=NAME signed by the CA
issue() {
    local extensions
    extensions="$(mktemp)"
    printf '%b\n' "$4" > "$extensions"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$2" -out "$2.csr" 2> /dev/null
    openssl x509 -req -in "$2.csr" -CA tls-ca/ca.pem -CAkey tls-ca/ca-key.pem -CAcreateserial \
        -days "$DAYS_LEAF" -sha256 -extfile "$extensions" -out "$3" 2> /dev/null
    rm -f "$2.csr" "$extensions"
}

if [ ! -s tls-ca/ca.pem ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$DAYS_CA" \
        -subj "/CN=referral-broker compose CA" -keyout tls-ca/ca-key.pem -out tls-ca/ca.pem \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null
    rm -f rabbitmq/tls/server.pem # a new CA needs a new server certificate
fi

if [ "${1:-}" = client ]; then
    name="${2:?usage: make-certificates.sh client USER (a RabbitMQ user, e.g. bureau-330681)}"
    issue "$name" "tls-ca/clients/$name-key.pem" "tls-ca/clients/$name.pem" \
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
    echo "client certificate for $name: tls-ca/clients/$name.pem and $name-key.pem (CA: tls-ca/ca.pem)"
    exit 0
fi

if [ ! -s rabbitmq/tls/server.pem ]; then
    issue rabbitmq rabbitmq/tls/server-key.pem rabbitmq/tls/server.pem \
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=$SERVER_NAMES"
fi
for dir in rabbitmq provision router tracker; do
    cp tls-ca/ca.pem "$dir/tls/ca.pem"
done

chmod 0700 tls-ca tls-ca/clients rabbitmq/tls provision/tls router/tls tracker/tls
chmod 0600 tls-ca/*.pem rabbitmq/tls/server-key.pem
chmod 0644 rabbitmq/tls/server.pem rabbitmq/tls/ca.pem provision/tls/ca.pem router/tls/ca.pem tracker/tls/ca.pem
if [ "$(id -u)" = 0 ]; then
    # as deploy/init-secrets.sh: the nodes' entry point reads as root, our image runs as uid 10001
    chown -R 0:0 tls-ca rabbitmq/tls
    chown -R 10001:10001 provision/tls router/tls tracker/tls
fi
openssl verify -CAfile tls-ca/ca.pem rabbitmq/tls/server.pem
