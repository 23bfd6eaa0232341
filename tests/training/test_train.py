"""The training command end to end on a tiny archive made here: it indexes the archive, labels
the candidates of each question asked as of its date, never collects a question of the
excluded period, trains a few steps and writes a reader that ONNX Runtime loads and runs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from newsqa.cli import main as newsqa  # noqa: E402
from newsqa.reader.inputs import Candidate  # noqa: E402
from newsqa.reader.runtime import Reader  # noqa: E402
from newsqa.records import AnswerRequest

TEAMS = ["Buffalo Bills", "Kansas City Chiefs", "Dallas Cowboys", "Green Bay Packers"]


def _archive(root: Path, headline: str = "Match report {i}") -> Path:
    folder = root / "tiny"
    folder.mkdir()
    arts, qs = [], []
    for i, team in enumerate(TEAMS * 3):
        month = 1 + i % 12
        day = f"2023-{month:02d}-10"
        url = f"https://news.example/{i}"
        arts.append({"id": f"a{i}", "url": url, "title": headline.format(i=i, team=team),
                     "source": "news.example", "published_at": day,
                     "text": f"The {team} won the final on Sunday in game {i}. Fans cheered "
                             f"loudly across the city. Officials praised the organisers."})
        qs.append({"id": f"q{i}", "date": day, "question": f"Which team won the final in game "
                   f"{i}?", "choices": TEAMS, "answer": team, "answerable": True,
                   "gold_urls": [url]})
    with gzip.open(folder / "articles.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(a) + "\n" for a in arts)
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))
    return folder


def _train(tmp_path: Path, folder: Path, *extra: str) -> int:
    """The command on the tiny archive: a few steps of a 1-layer reader into tmp_path/model."""
    return newsqa(["train-reader", "--data", str(tmp_path), "--archives", folder.name, "--work",
                 str(tmp_path / "work"), "--exclude", "2023-07-01:2023-09-30", "--dev",
                 "2023-10-01:2023-12-31", "--layers", "1", "--max-steps", "3",
                 "--out", str(tmp_path / "model"), *extra])


def _trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str
             ) -> tuple[dict, Reader]:
    """One epoch of the command on the tiny archive: what it recorded, and the reader served."""
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    assert _train(tmp_path, _archive(tmp_path), "--epochs", "1", *extra) == 0
    out = tmp_path / "model"
    return json.loads((out / "reader.json").read_text()), Reader(out)


def test_train_reader_on_a_tiny_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    folder = _archive(tmp_path)
    out = tmp_path / "model"
    code = _train(tmp_path, folder, "--epochs", "2")
    assert code == 0
    lists = json.loads((tmp_path / "work" / f"lists-{folder.name}.json").read_text())
    dates = [it["date"] for it in lists]
    assert dates and not any("2023-07-01" <= d <= "2023-09-30" for d in dates)
    labels = [c["label"] for it in lists for c in it["candidates"]]
    assert 1 in labels and 0 in labels
    first = next(it for it in lists if it["id"] == "q0")
    positives = [c["sentence"] for c in first["candidates"] if c["label"] == 1]
    assert positives == ["The Buffalo Bills won the final on Sunday in game 0."]
    info = json.loads((out / "reader.json").read_text())
    assert info["layers"] == 1 and len(info["curve"]) >= 1
    assert set(info["calibration"]) == {"scale", "bias"} and info["rank_penalty"] >= 0
    assert set(info["fusion"]) == {"composer_weight", "evidence_weight"}
    assert all("composer" in c for it in lists for c in it["candidates"])
    reader = Reader(out)
    got = reader.logits("Which team won?", [Candidate("The Bills won."), Candidate("Rain fell.")])
    assert got.shape == (2,) and np.all(np.isfinite(got))
    assert 0.0 <= reader.probability(float(got[0])) <= 1.0
    # the service runs the folder's reader (on by default) unless the reader is off
    from newsqa.assemble import configured_reader
    from newsqa.settings import get_settings

    assert configured_reader(get_settings(reader__dir=str(out)))[0] is not None
    assert configured_reader(get_settings(reader__mode="off", reader__dir=str(out)))[0] is None
    on, read = configured_reader(get_settings(reader__mode="on", reader__dir=str(out),
                                              reader__passages=5, reader__abstain_below=None))
    assert on is not None and (read.passages, read.abstain_below) == (5, info["abstain_below"])
    # by default only the composer's evidence model abstains
    assert configured_reader(get_settings(reader__mode="on", reader__dir=str(out)))[1] \
        .abstain_below == 0.0
    assert (read.composer_weight, read.evidence_weight) == (
        info["fusion"]["composer_weight"], info["fusion"]["evidence_weight"])
    assert read.keep_share == info["keep_share"] and str(info["keep_share"]) in info[
        "dev_answers"]
    # an answer through the service with the reader on reads the composer's candidates
    from newsqa.service import NewsQA

    svc = NewsQA.open(get_settings(
        index__path=str(tmp_path / "work" / f"index-{folder.name}"), reader__mode="on",
        reader__dir=str(out), reader__abstain_below=0.0, composition__abstain_threshold=0.0),
        create=False)  # the evidence model is fitted on real news, not this tiny archive
    try:
        res = svc.answer(AnswerRequest("Which team won the final in game 0?", k=5)).to_dict()
    finally:
        svc.close()
    assert not res["abstained"] and res["citations"]
    assert all(c["url"].startswith("https://news.example/") for c in res["citations"])
    probe = (f"import sys; from newsqa.reader.runtime import load_reader; "
             f"from newsqa.reader.inputs import Candidate; "
             f"load_reader({str(out)!r}).logits('Who won?', [Candidate('The Bills won.')]); "
             f"print([m for m in ('torch', 'transformers') if m in sys.modules])")
    import subprocess
    import sys

    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    assert ran.stdout.strip().splitlines()[-1] == "[]"  # reading needs no torch


def test_archives_without_dev_questions_train_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    folder = _archive(tmp_path)
    assert _train(tmp_path, folder, "--dev", "2030-01-01:2030-12-31") == 2
    assert not (tmp_path / "model").exists()
    assert _train(tmp_path, folder, "--collect-only") == 0  # the lists are cached all the same


def test_the_options_default_to_the_training_configuration() -> None:
    from newsqa.cli import build_parser
    from newsqa.training.rebuild import DEFAULT_DEV, DEFAULT_EXCLUDE
    from newsqa.training.train import TrainConfig

    args = build_parser().parse_args(["train-reader"])
    cfg = TrainConfig()
    for name in ("layers", "epochs", "hard_share", "max_pieces", "listwise_weight",
                 "pointwise_weight", "lr", "seed"):
        assert getattr(args, name) == getattr(cfg, name), name
    from newsqa.cli.train_reader import parse_span, parse_spans

    assert (args.exclude, args.dev) == (parse_span(DEFAULT_EXCLUDE), parse_spans(DEFAULT_DEV))


def test_the_loss_weights_chosen_are_recorded_and_the_sentence_alone_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, reader = _trained(tmp_path, monkeypatch, "--listwise-weight", "0",
                            "--pointwise-weight", "1")
    assert info["context"] == "sentence"
    assert (info["config"]["listwise_weight"], info["config"]["pointwise_weight"]) == (0.0, 1.0)
    assert reader.info.context == "sentence"
    # served as trained: the headline and the sentence before are not read
    bare = reader.logits("Which team won?", [Candidate("The Bills won.")])
    full = reader.logits("Which team won?", [Candidate("The Bills won.", "Bills win", "Rain.")])
    assert np.array_equal(bare, full)


def _serves_its_head(info: dict, reader: Reader, cands: list[Candidate]) -> None:
    """What a reader scored by a head on a cosine in [-1, 1] serves: each candidate's
    logit its own, alone or among others (up to int8 activations, scaled per run), within the
    head's range, and the probe logits training recorded (fp32 torch) up to int8."""
    assert set(info["head"]) == {"weight", "bias"}
    got = reader.logits("Which team won?", cands)
    alone = [float(reader.logits("Which team won?", [c])[0]) for c in cands]
    assert np.allclose(got, alone, atol=0.25)
    w, b = info["head"]["weight"], info["head"]["bias"]
    assert np.all(got <= abs(w) + b + 1e-3) and np.all(got >= -abs(w) + b - 1e-3)
    from newsqa.reader.probe import probe_pairs

    for (question, probe), want in zip(probe_pairs(), info["probe"], strict=True):
        assert np.allclose(reader.logits(question, probe), want, atol=0.5)


def test_the_dual_reader_trains_and_serves_the_cosine_of_its_embeddings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, reader = _trained(tmp_path, monkeypatch)
    assert (info["kind"], info["context"]) == ("dual", "sentence")
    _serves_its_head(info, reader, [
        Candidate("The Bills won."), Candidate("Rain fell."), Candidate("Fans cheered.")])
    # a reader.json that lost its head, or names no known kind, is refused when loaded
    from newsqa.reader.runtime import ReaderMissingError, read_info

    for broken in ({**info, "head": {}}, {**info, "kind": "triple"}):
        (tmp_path / "model" / "reader.json").write_text(json.dumps(broken))
        with pytest.raises(ReaderMissingError, match="not a dual reader"):
            read_info(tmp_path / "model")
