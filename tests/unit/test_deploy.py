"""deploy/: the compose stack is valid and agrees with the code it runs.

Offline and without Docker: deploy/compose.yaml is checked against the Compose specification's
JSON Schema committed as deploy/compose-spec.schema.json (source in deploy/README.md), every
`referral-broker` command in it is parsed by the real CLI parser, and the names that several files
must share (environment variables, users, databases, ports, node names, queue and metric names)
are compared with the code.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.support.compose import (
    CERTIFICATE_FILES,
    DEPLOY,
    GENERATORS,
    RABBITMQ_NODES,
    ROOT,
    broker_services,
    compose,
    environment,
    secret_mounts,
    services,
)


def interpolate_defaults(text: str) -> str:
    """${VAR:-default} and ${VAR-default} become their defaults, as with nothing set."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", text)


def referral_broker_commands(service: dict[str, Any]) -> list[list[str]]:
    """The argument lists of every `referral-broker` invocation in a service's command."""
    command = service.get("command")
    if command is None:
        return []
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if argv[:2] == ["sh", "-c"]:
        found = []
        for part in re.split(r"&&|;|\|\|", argv[2]):
            words = shlex.split(part)
            if words and words[0] == "referral-broker":
                found.append(words[1:])
        return found
    return [argv[1:]] if argv and argv[0] == "referral-broker" else []


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((DEPLOY / "compose-spec.schema.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(compose()), key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []


def test_the_schema_rejects_what_compose_rejects() -> None:
    schema = json.loads((DEPLOY / "compose-spec.schema.json").read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose()))
    broken["services"]["router"]["replica"] = 2
    broken["services"]["postgres"]["healthcheck"]["interval"] = 5
    messages = [e.message for e in Draft7Validator(schema).iter_errors(broken)]
    assert any("'replica'" in m for m in messages)
    assert any("is not of type 'string'" in m for m in messages)


def test_the_stack_has_what_the_readme_promises() -> None:
    s = services()
    for node in RABBITMQ_NODES:
        assert s[node]["image"] == "rabbitmq:3.13-management"
        assert s[node]["hostname"] == node
    assert s["postgres"]["image"] == "postgres:16"
    assert s["router"]["deploy"]["replicas"] >= 2
    assert s["tracker"]["deploy"]["replicas"] >= 2
    assert referral_broker_commands(s["provision"])[0] == ["declare"]
    assert referral_broker_commands(s["provision"])[-1][0] == "provision"
    assert referral_broker_commands(s["router"])[0][0] == "route"
    assert referral_broker_commands(s["tracker"])[0][0] == "track"


@pytest.mark.parametrize("name", sorted(broker_services()))
def test_every_referral_broker_command_parses(name: str) -> None:
    from broker.cli.main import build_parser

    for argv in referral_broker_commands(services()[name]):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{name}: `referral-broker {shlex.join(argv)}` is not a valid command line")
        assert callable(args.func)


def variables_the_code_reads() -> set[str]:
    pattern = re.compile(r"""(?:_env|environ\.get|getenv|environ\[)\(?\s*["'](RB_[A-Z0-9_]+)["']""")
    names: set[str] = set()
    for folder in ("broker", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_rb_variable_is_one_the_code_reads() -> None:
    known = variables_the_code_reads()
    assert {"RB_AMQP_URL", "RB_DATABASE_URL", "RB_TRACKER_DATABASE_URL"} <= known
    for name, service in services().items():
        unknown = {v for v in environment(service) if v.startswith("RB_")} - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which nothing in broker/ or workers/ reads"


def test_workers_connect_as_their_own_users_to_postgres() -> None:
    from broker.participants import SYSTEM, Participants
    from broker.transport.provision import ROUTER_USER

    router = environment(services()["router"])
    tracker = environment(services()["tracker"])
    assert router["CREDENTIALS_USER"] == ROUTER_USER
    assert tracker["CREDENTIALS_USER"] == Participants.of([]).username(SYSTEM)
    for env, variable in ((router, "RB_DATABASE_URL"), (tracker, "RB_TRACKER_DATABASE_URL")):
        assert env[variable].startswith("postgresql+psycopg://")
        assert ":" not in env[variable].split("//", 1)[1].split("@", 1)[0], "no password in the URL"
        assert env["PGPASSFILE"].startswith("/secrets/")
    # the router's database is POSTGRES_DB; postgres/init.sql creates the tracker's
    postgres = environment(services()["postgres"])
    assert router["RB_DATABASE_URL"].rsplit("/", 1)[1] == postgres["POSTGRES_DB"]
    tracker_db = tracker["RB_TRACKER_DATABASE_URL"].rsplit("/", 1)[1]
    assert f"CREATE DATABASE {tracker_db};" in (DEPLOY / "postgres" / "init.sql").read_text(encoding="utf-8")


def test_provision_uses_the_administrator_rabbitmq_creates() -> None:
    env = environment(services()["provision"])
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    assert re.search(rf"^default_user = {re.escape(env['CREDENTIALS_USER'])}$", conf, re.M)
    assert "referral-admin" in (DEPLOY / "init-secrets.sh").read_text(encoding="utf-8")
    assert "referral-admin" in (DEPLOY / "rabbitmq" / "entrypoint.sh").read_text(encoding="utf-8")


def test_bind_mounted_files_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = interpolate_defaults(volume if isinstance(volume, str) else volume["source"])
            source = source.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is not in deploy/"


def test_rabbitmq_nodes_list_each_other_and_replicate_to_all() -> None:
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    peers = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$", conf, re.M)
    assert sorted(peers) == sorted(RABBITMQ_NODES)
    target = re.search(r"target_group_size = (\d+)$", conf, re.M)
    assert target and int(target.group(1)) == len(RABBITMQ_NODES)
    plugins = (DEPLOY / "rabbitmq" / "enabled_plugins").read_text(encoding="utf-8")
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins
    assert set(services()["provision"]["depends_on"]) == set(RABBITMQ_NODES)


def test_dockerfile_copies_only_what_the_build_context_keeps() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    kept = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = []
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            copied += words[:-1]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert source.rstrip("/") in kept, f"{source} is left out of the build context"
    for name, service in broker_services().items():
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile", name


def metrics_port(service: dict[str, Any]) -> int:
    argv = referral_broker_commands(service)[0]
    return int(argv[argv.index("--metrics-port") + 1])


def test_prometheus_scrapes_the_ports_the_workers_serve() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for worker, command in (("router", "route"), ("tracker", "track")):
        running = [n for n, s in services().items() if command in [a[0] for a in referral_broker_commands(s)]]
        assert worker in running  # with its shards' routers (router-1, ...) beside it
        (sd,) = jobs[worker]["dns_sd_configs"]
        assert sorted(sd["names"]) == sorted(running), "every service running the worker is scraped"
        for name in running:
            port = metrics_port(services()[name])
            assert [str(port)] == [str(p) for p in services()[name]["expose"]]
            assert sd["port"] == port
    for job in ("rabbitmq", "rabbitmq-queues"):
        (static,) = jobs[job]["static_configs"]
        assert static["targets"] == [f"{node}:15692" for node in RABBITMQ_NODES]
    assert jobs["rabbitmq-queues"]["metrics_path"] == "/metrics/detailed"
    rule_files = [Path(f).name for f in config["rule_files"]]
    mounted = {
        Path(v.split(":")[1]).name: v.split(":")[0] for v in services()["prometheus"]["volumes"] if ":" in v
    }
    for rule_file in rule_files:
        assert (DEPLOY / mounted[rule_file]).exists()


def our_metric_samples() -> dict[str, set[str]]:
    """Sample names the workers expose (counter `x` is scraped as `x_total`), with their labels."""
    from prometheus_client import Counter, Gauge, Histogram

    from broker import metrics

    samples: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            samples[f"{value._name}_total"] = set(value._labelnames)
        elif isinstance(value, Histogram):
            for suffix in ("_bucket", "_sum", "_count"):
                samples[f"{value._name}{suffix}"] = set(value._labelnames) | (
                    {"le"} if suffix == "_bucket" else set()
                )
        elif isinstance(value, Gauge):
            samples[value._name] = set(value._labelnames)
    return samples


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "referral-broker.json").read_text(encoding="utf-8")
    )
    return data


def expressions() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    alerts = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    exprs += [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    return exprs


def test_dashboard_and_alerts_use_metrics_and_labels_the_workers_have() -> None:
    samples = our_metric_samples()
    used: set[str] = set()
    for expr in expressions():
        names = set(re.findall(r"\brb_[a-z_]+\b", expr))
        used |= names
        for name in names:
            assert name in samples, f"{name} in `{expr}` is not a metric of broker/metrics.py"
        for name, selector in re.findall(r"\b(rb_[a-z_]+)\{([^}]*)\}", expr):
            for label in re.findall(r"([a-z_]+)\s*[=!~]", selector):
                assert label in samples[name], f"{name} has no label {label!r}"
        if names and not re.search(r"\brabbitmq_", expr):
            labels = set().union(*(samples[n] for n in names))
            for group in re.findall(r"\bby \(([^)]*)\)", expr):
                for label in (lb.strip() for lb in group.split(",")):
                    assert label in labels, f"`{expr}` groups by {label!r}, which its metrics lack"
    # every metric the workers define appears somewhere (no metric is left off the dashboard)
    families = {re.sub(r"_(total|bucket|sum|count)$", "", s) for s in samples}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", s) for s in used}
    assert families <= shown, f"not on the dashboard: {sorted(families - shown)}"


def test_dashboard_names_queues_that_exist() -> None:
    from broker.transport import topology

    queues = {
        topology.ROUTER_QUEUE,
        topology.TRACKER_QUEUE,
        topology.QUARANTINE,
        topology.UNROUTABLE,
        topology.DEAD_LETTER_QUEUE,
    }
    for expr in expressions():
        for value in re.findall(r'queue=~?"([^"]*)"', expr):
            for alternative in value.split("|"):
                name = alternative.replace("\\\\", "\\").replace("\\.", ".")
                if name.startswith(topology.INBOX_PREFIX):
                    continue
                assert name in queues, f"`{expr}` names queue {name!r}, which topology.py does not declare"


def test_grafana_provisioning_matches_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yaml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["url"] == "http://prometheus:9090"
    uids = {p["datasource"]["uid"] for p in dashboard()["panels"] if p["type"] != "row"} | {
        t["datasource"]["uid"] for p in dashboard()["panels"] for t in p.get("targets", [])
    }
    assert uids == {source["uid"]}
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "referral-broker.yaml").read_text(encoding="utf-8")
    )["providers"]
    grafana_mounts = {v.split(":")[1]: v.split(":")[0] for v in services()["grafana"]["volumes"] if ":" in v}
    dashboard_target = next(t for t, s in grafana_mounts.items() if s.endswith("referral-broker.json"))
    assert str(Path(dashboard_target).parent) == provider["options"]["path"]
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


# ---- secrets: each service sees its own only ----

OWN_SECRETS = {
    **{node: "rabbitmq" for node in RABBITMQ_NODES},
    "postgres": "postgres",
    "provision": "provision",
    "router": "router",
    "router-1": "router",  # the second shard's router: the same user and database
    "tracker": "tracker",
}
"""The subdirectory of the secrets volume each service may see (deploy/init-secrets.sh writes them)."""
HANDED_OVER = {"router", "tracker"}
"""Subdirectories provision writes into too: the workers' own RabbitMQ passwords, which it creates."""
FILES = {
    "rabbitmq": {"erlang-cookie", "admin.json"},
    "postgres": {"postgres-password"},
    "provision": {"admin.json", "inbox-secret"},
    "router": {"pgpass"},
    "tracker": {"pgpass"},
}
"""What init-secrets.sh leaves in each subdirectory (provision adds the credentials files)."""


def test_each_service_mounts_only_its_own_secrets() -> None:
    for name, service in services().items():
        mounts = secret_mounts(service)
        if name in GENERATORS:
            assert [(sub, target) for sub, target, _ in mounts] == [(None, "/secrets")]
            continue
        if not mounts:
            continue
        subpaths = {sub for sub, _, _ in mounts}
        assert None not in subpaths, f"{name} mounts the whole secrets volume"
        assert name in OWN_SECRETS, f"{name} mounts secrets but has none of its own"
        allowed = {OWN_SECRETS[name]} | (HANDED_OVER if name == "provision" else set())
        assert subpaths == allowed, f"{name} sees {sorted(subpaths)}, not only {sorted(allowed)}"
        if name != "provision":
            assert all(read_only for *_, read_only in mounts), f"{name} may write its secrets"
    # nobody but the RabbitMQ nodes and the routers of the shards shares a subdirectory
    owners: dict[str, set[str]] = {}
    for name, sub in OWN_SECRETS.items():
        owners.setdefault(sub, set()).add(name)
    assert owners["rabbitmq"] == set(RABBITMQ_NODES)
    assert owners["router"] == {"router", "router-1"}
    assert all(len(names) == 1 for sub, names in owners.items() if sub not in ("rabbitmq", "router"))


def run_init_secrets(directory: Path) -> str:
    import os
    import subprocess
    import sys

    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # init-secrets.sh runs `python`
    env = {**os.environ, "SECRETS_DIR": str(directory), "PATH": path}
    done = subprocess.run(
        ["sh", str(DEPLOY / "init-secrets.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def tree(directory: Path) -> dict[str, set[str]]:
    return {d.name: {f.name for f in d.iterdir()} for d in directory.iterdir() if d.is_dir()}


def test_init_secrets_gives_each_subdirectory_only_what_its_service_reads(tmp_path: Path) -> None:
    import stat

    run_init_secrets(tmp_path)
    assert tree(tmp_path) == FILES
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [], "nothing at the volume's top"
    for path in [tmp_path, *tmp_path.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    first = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    run_init_secrets(tmp_path)
    again = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert again == first, "secrets are kept on later starts"
    admin = (tmp_path / "provision" / "admin.json").read_bytes()
    assert (tmp_path / "rabbitmq" / "admin.json").read_bytes() == admin
    password = (tmp_path / "postgres" / "postgres-password").read_text()
    assert (tmp_path / "router" / "pgpass").read_text() == f"*:*:*:referral:{password}\n"


def test_init_secrets_moves_a_volume_of_the_earlier_flat_layout(tmp_path: Path) -> None:
    (tmp_path / "erlang-cookie").write_text("old-cookie")
    (tmp_path / "postgres-password").write_text("old-pg")
    (tmp_path / "admin.json").write_text('{"referral-admin": "old-admin"}\n')
    (tmp_path / "credentials.json").write_text('{"bureau-330681": "old-participant"}\n')
    (tmp_path / "pgpass").write_text("*:*:*:referral:old-pg\n")
    run_init_secrets(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []
    assert (tmp_path / "rabbitmq" / "erlang-cookie").read_text() == "old-cookie"
    assert (tmp_path / "postgres" / "postgres-password").read_text() == "old-pg"
    assert "old-admin" in (tmp_path / "rabbitmq" / "admin.json").read_text()
    assert "old-participant" in (tmp_path / "provision" / "credentials.json").read_text()
    assert (tmp_path / "tracker" / "pgpass").read_text() == "*:*:*:referral:old-pg\n"


def in_mount(service: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(subdirectory of the secrets volume, file name) where a path inside the container lands."""
    for sub, target, _ in secret_mounts(service):
        if sub and path.startswith(target.rstrip("/") + "/"):
            return sub, path[len(target.rstrip("/")) + 1 :]
    return None


def test_every_secret_a_service_reads_is_in_its_own_subdirectory() -> None:
    entrypoint = (DEPLOY / "entrypoint.sh").read_text(encoding="utf-8")
    default = re.search(r'CREDENTIALS_FILE"\) or "([^"]+)"', entrypoint)
    assert default, "entrypoint.sh names its default credentials file"
    provision = services()["provision"]
    argv_provision = referral_broker_commands(provision)[-1]
    handed: dict[str, str] = {}
    written = set()  # the other files provision hands over: the key directory, the deployment's public key
    for i, word in enumerate(argv_provision):
        if word == "--service-credentials":
            user, path = argv_provision[i + 1].split("=", 1)
            handed[user] = path
        if word == "--key-directory-out":
            written.add(in_mount(provision, argv_provision[i + 1]))
    for part in re.split(r"&&|;", str(provision["command"][2])):
        words = shlex.split(part)
        if words[:1] == ["cp"]:
            written.add(in_mount(provision, words[-1]))
    for name, service in services().items():
        if name not in OWN_SECRETS:
            continue
        env = environment(service)
        wanted = [v for v in env.values() if v.startswith("/secrets/")]
        if "CREDENTIALS_USER" in env:
            wanted.append(env.get("CREDENTIALS_FILE", default.group(1)))
        for path in wanted:
            where = in_mount(service, path)
            assert where and where[0] == OWN_SECRETS[name], f"{name} reads {path} outside its own secrets"
            sub, file = where
            if file in FILES[sub] | CERTIFICATE_FILES.get(sub, set()):
                continue
            # otherwise provision writes it: the hand-over file, or this worker's own entry
            if name == "provision":
                assert f"/secrets/{file}" in argv_provision, f"nothing writes {path} for provision"
                continue
            if (sub, file) in written:
                continue
            user = env["CREDENTIALS_USER"]
            assert user in handed, f"provision hands {name}'s user {user} no credentials"
            assert in_mount(provision, handed[user]) == (sub, file), f"{name} would not find {path}"
    # and provision hands out nothing but the workers' own users
    workers = {environment(services()[w])["CREDENTIALS_USER"] for w in HANDED_OVER}
    assert set(handed) == workers


def test_the_holding_queue_alert_warns_at_80_percent_of_each_bound_topology_declares() -> None:
    from kombu import Queue

    from broker.transport import topology

    alerts = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    (rule,) = [r for g in alerts["groups"] for r in g["rules"] if r["alert"] == "HoldingQueueFilling"]
    found = {
        (queue, metric): int(bound)
        for metric, queue, bound in re.findall(
            r"\((rabbitmq_detailed_queue_messages(?:_bytes)?)\{queue=\"([^\"]+)\"\}\) > 0\.8 \* (\d+)",
            rule["expr"],
        )
    }
    bounds = {
        topology.QUARANTINE: (topology.QUARANTINE_MAX_MESSAGES, topology.QUARANTINE_MAX_BYTES),
        topology.DEAD_LETTER_QUEUE: (topology.DEAD_LETTER_MAX_MESSAGES, topology.DEAD_LETTER_MAX_BYTES),
        topology.UNROUTABLE: (topology.UNROUTABLE_MAX_MESSAGES, topology.UNROUTABLE_MAX_BYTES),
    }
    expected = {}
    for queue, (messages, size) in bounds.items():
        expected[(queue, "rabbitmq_detailed_queue_messages")] = messages
        expected[(queue, "rabbitmq_detailed_queue_messages_bytes")] = size
    assert found == expected
    for entity in topology.core_entities():
        if isinstance(entity, Queue) and entity.name in bounds:
            args = entity.queue_arguments
            assert (args["x-max-length"], args["x-max-length-bytes"]) == bounds[entity.name]
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    (queues,) = [job for job in config["scrape_configs"] if job["job_name"] == "rabbitmq-queues"]
    assert "queue_metrics" in queues["params"]["family"], "the _bytes gauges come with family queue_metrics"


def test_rabbitmq_caps_message_size_between_the_contract_and_the_quarantine() -> None:
    """A body a little over the contract's limit still reaches the router (to be quarantined with a
    reason its sender is told), but no participant fills the bounded quarantine with a few messages."""
    from broker.domain.validation import MAX_MESSAGE_BYTES
    from broker.transport import topology

    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    (limit,) = re.findall(r"^max_message_size = (\d+)$", conf, re.MULTILINE)
    assert MAX_MESSAGE_BYTES < int(limit) <= topology.QUARANTINE_MAX_BYTES // 1000
