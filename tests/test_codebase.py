"""The lint bar is part of the suite: ruff, mypy (strict on engine and workers), import rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> None:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"


def test_ruff_lint() -> None:
    _run(str(BIN / "ruff"), "check", ".")


def test_ruff_format() -> None:
    _run(str(BIN / "ruff"), "format", "--check", ".")


@pytest.mark.timeout(300)
def test_mypy_strict() -> None:
    _run(str(BIN / "mypy"))


def test_import_direction_follows_design() -> None:
    _run(str(BIN / "lint-imports"))
