"""Size and complexity limits of the runtime packages (issue 12): no function above cyclomatic
complexity 15 (radon's measure), no module over 400 lines except declarative tables. The tools
(demo, bench, contract generators, data refresh) and tests are outside these limits."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("broker", "workers")
OUTSIDE = ("broker/tools/",)
MAX_COMPLEXITY = 15
MAX_LINES = 400
TABLES = {
    # declarative tables: one entry per kind, rule, division or clause, read top to bottom
    "broker/domain/messages.py",
    "broker/domain/jurisdictions.py",
    "broker/tracker/rules.py",
}


def _runtime_files() -> list[Path]:
    return sorted(
        p
        for folder in RUNTIME
        for p in (ROOT / folder).rglob("*.py")
        if not p.relative_to(ROOT).as_posix().startswith(OUTSIDE)
    )


def test_no_runtime_function_above_complexity_15() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname} has complexity {block.complexity}"
        for path in _runtime_files()
        for block in cc_visit(path.read_text(encoding="utf-8"))
        if block.complexity > MAX_COMPLEXITY
    ]
    assert not found, "\n".join(found)


def test_no_runtime_module_over_400_lines() -> None:
    found = [
        f"{path.relative_to(ROOT)} has {lines} lines"
        for path in _runtime_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and path.relative_to(ROOT).as_posix() not in TABLES
    ]
    assert not found, "\n".join(found)
