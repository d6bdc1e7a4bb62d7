# Shared set-up steps of deploy/demo.sh, deploy/run-router.sh and tests/run.sh (sourced, not run).

RB_AMQP_URL="${RB_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
export RB_AMQP_URL

ensure_venv() {
    # A fresh virtualenv the first time, then only what pyproject.toml added since.
    # RB_VENV_READY=1 skips it where the virtualenv is known to be complete (tests of the scripts).
    [ -n "${RB_VENV_READY:-}" ] && [ -x .venv/bin/python ] && return 0
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet -e '.[test]'
}

ensure_rabbitmq_management() {
    # Provisioning uses RabbitMQ's HTTP API. On a local broker we administer, switch the
    # management plugin on when it is off (idempotent, no restart needed).
    local api="${RB_MANAGEMENT_URL:-http://127.0.0.1:15672}"
    if curl -fsS -o /dev/null -u guest:guest "$api/api/overview" 2>/dev/null; then
        return 0
    fi
    if command -v rabbitmq-plugins >/dev/null 2>&1; then
        rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null
        for _ in $(seq 1 30); do
            curl -fsS -o /dev/null -u guest:guest "$api/api/overview" 2>/dev/null && return 0
            sleep 1
        done
    fi
    echo "warning: RabbitMQ's management API is not reachable at $api; broker tests will fail" >&2
}
