"""The layout's doors, checked on the source: each library is imported in one package only, the
entry points and tools are imported by nothing in the runtime, and tests share code through
tests/support/ only. Read from the import statements (module level and inside functions), no
import is executed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOORS = {
    "kombu": "broker/transport/",
    "pika": "broker/transport/",
    "amqp": "broker/transport/",
    "sqlalchemy": "broker/store/",
    "alembic": "broker/store/",
    "cryptography": "broker/sealing/",
    "gmalg": "broker/sealing/",
    "starlette": "broker/console/",
    "uvicorn": "broker/console/",
    "jinja2": "broker/console/",
}
"""Each library and the one package allowed to import it."""

LIBRARY_EXCEPTIONS = {
    # the bench's limit is what these libraries do with no project layer in between
    ("amqp", "broker/tools/bench/bare_forwarder.py"),
    ("kombu", "broker/tools/bench/forwarder.py"),
    # the bench's harness fills, drains and counts its own queues, outside any deployment
    ("kombu", "broker/tools/bench/run.py"),
    ("pika", "broker/tools/bench/run.py"),
    ("pika", "broker/tools/bench/cluster.py"),
    # the parts bench times the project's ConfirmedPublisher alone, on a queue of its own
    ("kombu", "broker/tools/bench/parts.py"),
    # the flood bench publishes bodies no client of the project would send (that is its point)
    ("pika", "broker/tools/bench/flood.py"),
    # the tracker's benchmark reads the store's query plans (EXPLAIN, ANALYZE) beside its timings
    ("sqlalchemy", "broker/tools/bench/tracker.py"),
}

RUNTIME_FORBIDDEN = ("broker.tools", "broker.cli", "workers")
"""What the runtime (broker/ outside tools/ and cli/) may not import: tools, the command line, the
entry points."""


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from broker import x` imports broker.x
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_each_library_is_imported_behind_its_door_only() -> None:
    wrong = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _python_files("broker", "workers")
        for line, module in _imports(path)
        for library, door in DOORS.items()
        if _under(module, library)
        and not _rel(path).startswith(door)
        and (library, _rel(path)) not in LIBRARY_EXCEPTIONS
    ]
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_entry_points() -> None:
    wrong = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _python_files("broker", "workers", "tests")
        for line, module in _imports(path)
        if _under(module, "workers")
    ]
    assert not wrong, "\n".join(wrong)


def test_the_runtime_imports_no_tool_and_no_command_line() -> None:
    runtime = [p for p in _python_files("broker") if not _rel(p).startswith(("broker/tools/", "broker/cli/"))]
    wrong = [
        f"{_rel(path)}:{line} imports {module}"
        for path in runtime
        for line, module in _imports(path)
        if any(_under(module, forbidden) for forbidden in RUNTIME_FORBIDDEN)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_package_imports_no_test_code() -> None:
    """The tools too (the bench's RabbitMQ node is broker/tools/nodes.py, which the tests' nodes
    build on, not the other way round)."""
    wrong = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _python_files("broker", "workers")
        for line, module in _imports(path)
        if _under(module, "tests")
    ]
    assert not wrong, "\n".join(wrong)


def test_the_domain_imports_only_the_domain() -> None:
    wrong = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _python_files("broker/domain")
        for line, module in _imports(path)
        if _under(module, "broker") and not _under(module, "broker.domain")
    ]
    assert not wrong, "\n".join(wrong)


def test_tests_share_code_through_tests_support_only() -> None:
    wrong = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _python_files("tests")
        for line, module in _imports(path)
        if _under(module, "tests") and not _under(module, "tests.support")
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("rule", ["doors", "entry points"])
def test_the_checks_see_a_violation(tmp_path: Path, rule: str) -> None:
    """The scanner finds an import inside a function, where most of these hide."""
    sample = tmp_path / "sample.py"
    module = "kombu" if rule == "doors" else "workers.router"
    sample.write_text(f"def f():\n    from {module} import x\n", encoding="utf-8")
    assert (2, module) in _imports(sample)
