"""``bench/`` is a package, run as ``python -m bench.<name>``: no module of it edits ``sys.path`` or
imports from ``tests/`` (what both need lives in :mod:`newsqa.testing`), every module imports and
answers ``--help`` without running anything, and nothing in the product imports
:mod:`newsqa.testing`."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

BENCH = REPO / "bench"
#: Modules that hold helpers for the others and have no command line of their own.
HELPERS = {"slice"}
#: Modules exempt from the rule: none left (an exempt module that no longer breaks the rule
#: fails the test, so the list only shrinks).
EXEMPT: set[str] = set()


def _bench_modules() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")


def _breaches(path: Path) -> list[str]:
    """What in ``path`` reaches outside the package: ``sys.path`` touched, ``tests`` imported."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and node.attr == "path"
                and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            out.append(f"line {node.lineno}: sys.path")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "sys" and any(a.name == "path" for a in node.names):
                out.append(f"line {node.lineno}: from sys import path")
            if node.module.split(".")[0] == "tests":
                out.append(f"line {node.lineno}: from {node.module} import")
        elif isinstance(node, ast.Import):
            out += [f"line {node.lineno}: import {a.name}" for a in node.names
                    if a.name.split(".")[0] == "tests"]
    return out


def test_the_rule_sees_a_sys_path_edit_and_an_import_from_tests(tmp_path: Path) -> None:
    """The rule's own check, on a module that does both and one that does neither."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nsys.path.insert(0, '.')\nfrom tests.support import REPO\n"
                   "import tests.fake_llm\n")
    good = tmp_path / "good.py"
    good.write_text("import sys\nfrom newsqa.testing.paths import REPO\nprint(sys.argv)\n")
    assert len(_breaches(bad)) == 3
    assert _breaches(good) == []


def test_no_bench_module_edits_sys_path_or_imports_tests() -> None:
    found = {m: _breaches(BENCH / f"{m}.py") for m in _bench_modules()}
    breaking = {m: b for m, b in found.items() if b and m not in EXEMPT}
    assert not breaking, f"bench modules reaching outside the package: {breaking}"
    clean = sorted(m for m in EXEMPT if m in found and not found[m])
    assert not clean, f"no longer breaking the rule, remove from EXEMPT: {clean}"


def test_every_bench_module_imports_and_answers_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing a benchmark runs nothing, and ``--help`` stops at the argument parser."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # an exempt module still inserts into it
    for name in _bench_modules():
        module = importlib.import_module(f"bench.{name}")
        if name in HELPERS:
            continue
        assert callable(getattr(module, "main", None)), f"bench.{name} has no main()"
        monkeypatch.setattr(sys, "argv", [f"bench.{name}", "--help"])
        with pytest.raises(SystemExit) as stopped:
            module.main()
        assert stopped.value.code == 0, name
        assert "usage:" in capsys.readouterr().out, name


def test_a_benchmark_runs_as_a_module_from_the_checkout() -> None:
    """``python -m bench.<name>`` from the checkout's root finds the package with no path edit."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "bench.retrieval_ceiling", "--help"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "candidate recall" in " ".join(done.stdout.split())


def test_the_product_never_imports_the_testing_helpers() -> None:
    """:mod:`newsqa.testing` is for tests and benchmarks; no other module of ``src/`` uses it."""
    src = REPO / "src" / "newsqa"
    users = []
    for f in sorted(src.rglob("*.py")):
        if f.is_relative_to(src / "testing"):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "newsqa.testing" or n.startswith("newsqa.testing.") for n in names):
                users.append(f"{f.relative_to(REPO)}:{node.lineno}")
    assert not users, f"the product imports newsqa.testing: {users}"
