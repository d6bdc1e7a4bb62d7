"""The Docker image carries the contract: laid out as deploy/Dockerfile lays it out (the package
installed, the schemas folder beside it), `export-schemas --check` finds the files and agrees."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_copies_the_schemas_and_links_them_beside_the_package() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^COPY schemas (\S+)$", dockerfile, re.M)
    assert "/schemas" in dockerfile.split("pip install .", 1)[1]
    assert "!schemas/" in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text(encoding="utf-8")


def test_check_passes_in_the_image_layout(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    for package in ("broker", "workers"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    (site / "schemas").symlink_to(shutil.copytree(ROOT / "schemas", tmp_path / "opt" / "schemas"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import broker; print(broker.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    result = subprocess.run(
        [sys.executable, "-m", "broker.cli", "export-schemas", "--check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "match the models" in result.stdout, result.stdout + result.stderr
    # and without the folder the check fails, so the test can tell
    (site / "schemas").unlink()
    missing = subprocess.run(
        [sys.executable, "-m", "broker.cli", "export-schemas", "--check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
