"""The rooms keep their one-way arrows: pyproject.toml's import-linter contracts hold for the code, and they are real
(an upward import in a throwaway tree breaks them)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
ROOT_PACKAGES = ["launchpad", "web", "agent_api", "pools", "chain", "enclave_signer"]


def lint_imports(*, python_path: Path, contract: str | None = None) -> subprocess.CompletedProcess:
    command = [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")]
    if contract:
        command += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(python_path)}
    return subprocess.run(command, cwd=python_path, env=env, capture_output=True, text=True, timeout=120)


def test_no_room_imports_upward():
    result = lint_imports(python_path=ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "imported"),
    [("chain", "pools"), ("pools", "agent_api"), ("pools", "web"), ("web", "agent_api"), ("chain", "launchpad")],
)
def test_an_upward_or_sideways_import_breaks_the_rooms_contract(tmp_path, importer, imported):
    for package in ROOT_PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / importer / "upward.py").write_text(f"import {imported}\n")

    result = lint_imports(python_path=tmp_path, contract="rooms")

    assert result.returncode != 0
    assert f"{importer}.upward -> {imported}" in result.stdout
