"""`make install` installs the runtime only and shows pip's progress; test and lint install the
dev tools first (what .ci/run relies on: make install, then the other targets)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import REPO


def _plan(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-B", target, "PYTHON=python3"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def test_install_is_the_runtime_with_progress() -> None:
    plan = _plan("install")
    installs = [line for line in plan.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all("[dev" not in line for line in installs), plan
    assert all("--quiet" not in line for line in installs), plan


@pytest.mark.parametrize("target", ["test", "lint", "install-scale", "install-postgres"])
def test_test_and_lint_install_the_dev_tools(target: str) -> None:
    assert "-e '.[dev]'" in _plan(target) or "-e '.[dev," in _plan(target)


def test_ci_installs_the_dev_tools_before_the_tests() -> None:
    steps = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
             if line.strip().startswith("make ")]
    assert steps.index("make install") < steps.index("make test")
    plan = _plan("test")
    assert plan.index("-e '.[dev]'") < plan.index("pytest")
