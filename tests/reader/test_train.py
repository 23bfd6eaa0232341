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

from newsqa.reader.command import main  # noqa: E402
from newsqa.reader.inputs import Candidate  # noqa: E402
from newsqa.reader.runtime import Reader  # noqa: E402

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
    return main(["--data", str(tmp_path), "--archives", folder.name, "--work",
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
    assert set(info["fusion"]) == {"composer_weight", "evidence_weight", "offset"}
    assert all("composer" in c for it in lists for c in it["candidates"])
    reader = Reader(out)
    got = reader.logits("Which team won?", [Candidate("The Bills won."), Candidate("Rain fell.")])
    assert got.shape == (2,) and np.all(np.isfinite(got))
    assert 0.0 <= reader.probability(float(got[0])) <= 1.0
    # the service runs a reader from a folder only when asked
    from newsqa.reader.configured import configured_reader
    from newsqa.settings import get_settings

    assert configured_reader(get_settings(reader__dir=str(out)))[0] is None  # off by default
    on, read = configured_reader(get_settings(reader__mode="on", reader__dir=str(out),
                                              reader__passages=5))
    assert on is not None and (read.passages, read.abstain_below) == (5, info["abstain_below"])
    assert (read.composer_weight, read.evidence_weight) == (
        info["fusion"]["composer_weight"], info["fusion"]["evidence_weight"])
    assert read.keep_share == info["keep_share"] and str(info["keep_share"]) in info[
        "dev_answers"]
    # an answer through the service with the reader on reads the composer's candidates
    from newsqa.service import NewsQA

    svc = NewsQA.open(get_settings(
        index__path=str(tmp_path / "work" / f"index-{folder.name}"), reader__mode="on",
        reader__dir=str(out), reader__abstain_below=0.0), create=False)
    try:
        res = svc.ask("Which team won the final in game 0?", k=5)
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


def test_cloze_questions_join_training_outside_the_held_out_and_dev_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    folder = _archive(tmp_path, "Fans cheer as {team} lift the cup in game {i}")
    work = tmp_path / "work"
    code = main(["--data", str(tmp_path), "--archives", folder.name, "--work", str(work),
                 "--exclude", "2023-07-01:2023-09-30", "--dev", "2023-10-01:2023-12-31",
                 "--synthetic", "20", "--layers", "1", "--epochs", "1", "--max-steps", "2",
                 "--out", str(tmp_path / "model")])
    assert code == 0
    made = json.loads((work / f"cloze-{folder.name}-20-13.json").read_text())
    assert made and all(it["synthetic"] for it in made)
    assert not any("2023-07-01" <= it["date"] <= "2023-12-31" for it in made)
    for it in made:
        assert it["question"].startswith("Fans cheer as what lift the cup")
        assert any(c["label"] == 1 for c in it["candidates"])
        own = f"{it['answer']} lift the cup"  # its own headline, the question restated
        assert not any(own in c["sentence"] for c in it["candidates"])
    real = json.loads((work / f"lists-{folder.name}.json").read_text())
    info = json.loads((tmp_path / "model" / "reader.json").read_text())
    dev = sum("2023-10-01" <= it["date"] <= "2023-12-31" for it in real)
    assert info["train_lists"] == len(real) - dev + len(made)


def test_the_word_piece_head_trains_and_exports_one_logit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, reader = _trained(tmp_path, monkeypatch, "--kind", "cross", "--span",
                            "--span-weight", "0.5")
    assert info["config"]["span"] is True and info["config"]["span_weight"] == 0.5
    cands = [Candidate("The Bills won."), Candidate("Rain fell."), Candidate("Fans cheered.")]
    got = reader.logits("Which team won?", cands)
    assert got.shape == (3,) and np.all(np.isfinite(got))
    # the int8 graph still agrees with the fp32 model it was made from, on the probe set
    from newsqa.reader.probe import probe_pairs

    for (question, probe), want in zip(probe_pairs(), info["probe"], strict=True):
        assert np.allclose(reader.logits(question, probe), want, atol=0.5)


def test_the_context_and_loss_weights_chosen_are_recorded_and_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, reader = _trained(tmp_path, monkeypatch, "--kind", "cross", "--context", "sentence",
                            "--listwise-weight", "0", "--pointwise-weight", "1")
    assert info["context"] == "sentence"
    assert (info["config"]["listwise_weight"], info["config"]["pointwise_weight"]) == (0.0, 1.0)
    assert reader.info.context == "sentence"
    # served as trained: the headline and the sentence before are not read
    bare = reader.logits("Which team won?", [Candidate("The Bills won.")])
    full = reader.logits("Which team won?", [Candidate("The Bills won.", "Bills win", "Rain.")])
    assert np.array_equal(bare, full)


def _serves_its_head(info: dict, reader: Reader, cands: list[Candidate]) -> None:
    """What every reader scored by a head on a similarity in [-1, 1] serves: each candidate's
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
    info, reader = _trained(tmp_path, monkeypatch, "--kind", "dual", "--context", "sentence")
    assert info["kind"] == "dual"
    _serves_its_head(info, reader, [
        Candidate("The Bills won."), Candidate("Rain fell."), Candidate("Fans cheered.")])
    # a reader.json that lost its head, or names no known kind, is refused when loaded
    from newsqa.reader.runtime import ReaderMissingError, read_info

    for broken in ({**info, "head": {}}, {**info, "kind": "triple"}):
        (tmp_path / "model" / "reader.json").write_text(json.dumps(broken))
        with pytest.raises(ReaderMissingError, match="not a reader newsqa can run"):
            read_info(tmp_path / "model")


def test_the_query_reader_reads_the_stored_sentence_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, reader = _trained(tmp_path, monkeypatch, "--kind", "query", "--adapter")
    assert info["kind"] == "query" and set(info["head"]) == {"weight", "bias"}
    from newsqa.reader.dual import ADAPTER_FILE, adapt

    adapter = np.load(tmp_path / "model" / ADAPTER_FILE)
    assert info["adapter"] == ADAPTER_FILE and adapter.shape == (384, 384)
    assert np.any(adapter != 0)  # trained from zero
    # the lists keep each candidate's sentence vector beside them, in candidate order
    from newsqa.embedding.fake import HashEmbedder
    from newsqa.reader.collect import VECTOR, load_lists

    lists = load_lists(tmp_path / "work" / "lists-tiny.json")
    cands = [c for it in lists for c in it["candidates"]]
    assert cands and all(c[VECTOR].shape == (384,) for c in cands)
    assert all(abs(float(np.linalg.norm(c[VECTOR])) - 1.0) < 0.01 for c in cands)
    # a candidate is its vector alone: the same sentence with another vector scores otherwise,
    # another sentence with the same vector the same
    enc = HashEmbedder().encode
    bills, rain = enc(["The Bills won.", "Rain fell."])
    w, b = info["head"]["weight"], info["head"]["bias"]
    got = reader.logits("Which team won?", [Candidate("The Bills won.", vector=bills),
                                            Candidate("The Bills won.", vector=rain),
                                            Candidate("Anything at all.", vector=rain)])
    assert got[1] == pytest.approx(got[2], abs=1e-5) and got[0] != pytest.approx(got[1])
    question = reader._run(reader._tokens.encode_texts(["Which team won?"]), "embedding")[0]
    assert got[0] == pytest.approx(w * float(adapt(bills[None], adapter)[0] @ question) + b,
                                   abs=1e-4)
    with pytest.raises(ValueError, match="no sentence vector"):
        reader.logits("Which team won?", [Candidate("The Bills won.")])
    # the probes were recorded with the settings' embedder's vectors, and int8 agrees
    from newsqa.reader.probe import probe_pairs_with_vectors

    for (question_text, probe), want in zip(probe_pairs_with_vectors(enc), info["probe"],
                                            strict=True):
        assert np.allclose(reader.logits(question_text, probe), want, atol=0.5)
    # an answer through the service reads the index's stored vectors
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    svc = NewsQA.open(get_settings(
        index__path=str(tmp_path / "work" / "index-tiny"), reader__mode="on",
        reader__dir=str(tmp_path / "model"), reader__abstain_below=0.0), create=False)
    try:
        res = svc.ask("Which team won the final in game 0?", k=5)
    finally:
        svc.close()
    assert not res["abstained"] and res["citations"]
    # it records whose vectors it reads, and an index of another model's is refused at open
    assert info["vectors_model"] == HashEmbedder.name
    import shutil

    from newsqa.reader.runtime import ReaderMissingError

    other = tmp_path / "other-model"
    shutil.copytree(tmp_path / "model", other)
    (other / "reader.json").write_text(json.dumps({**info, "vectors_model": "another/model"}))
    with pytest.raises(ReaderMissingError, match="another/model"):
        NewsQA.open(get_settings(index__path=str(tmp_path / "work" / "index-tiny"),
                                 reader__mode="on", reader__dir=str(other)), create=False)


def test_a_query_reader_needs_lists_with_vectors(tmp_path: Path) -> None:
    from newsqa.reader.train import TrainConfig, train

    with pytest.raises(ValueError, match="query reader"):
        train([], [], tmp_path, TrainConfig(kind="dual", adapter=True))

    bare = [{"question": "Who won?", "answer": "Bills", "candidates": [
        {"sentence": "The Bills won.", "label": 1, "rank": 0, "composer": 0.0}]}]
    with pytest.raises(ValueError, match="sentence vectors"):
        train(bare, bare, tmp_path, TrainConfig(kind="query"))


def test_the_word_piece_head_needs_the_cross_reader(tmp_path: Path) -> None:
    from newsqa.reader.train import TrainConfig, train

    with pytest.raises(ValueError, match="cross reader"):
        train([], [], tmp_path, TrainConfig(kind="dual", span=True))
    with pytest.raises(ValueError, match="unknown reader kind"):
        train([], [], tmp_path, TrainConfig(kind="triple"))


def test_only_the_candidate_sentence_own_pieces_lift_its_logit() -> None:
    torch = pytest.importorskip("torch")
    from newsqa.reader.train import sentence_max

    # [CLS] q [SEP] s s | t t | b [SEP] [PAD]; separator id 9
    ids = torch.tensor([[1, 5, 2, 7, 7, 9, 8, 8, 9, 6, 2, 0]])
    mask = torch.tensor([[1] * 11 + [0]])
    types = torch.tensor([[0, 0, 0] + [1] * 8 + [0]])
    pieces = torch.tensor([[50.0, 40.0, 30.0, 1.0, 2.0, 60.0, 70.0, 80.0, 90.0, 99.0, 3.0, 200.0]])
    assert float(sentence_max(pieces, ids, mask, types, 9)[0]) == 2.0


def test_a_refit_trains_on_the_dev_lists_too_and_keeps_the_choices_made_on_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, first = _trained(tmp_path, monkeypatch, "--kind", "dual", "--context", "sentence")
    chosen = tmp_path / "chosen"
    (tmp_path / "model").rename(chosen)
    assert _train(tmp_path, tmp_path / "tiny", "--refit", str(chosen)) == 0
    refit = json.loads((tmp_path / "model" / "reader.json").read_text())
    for key in ("calibration", "abstain_below", "rank_penalty", "keep_share", "fusion"):
        assert refit[key] == info[key]
    assert refit["refit_of"]["trained_at"] == info["trained_at"]
    assert refit["dev_lists"] == 0 and refit["train_lists"] == info["train_lists"] + info[
        "dev_lists"]
    assert (refit["kind"], refit["epoch"], refit["config"]["seed"]) == ("dual", info["epoch"], 13)
    # trained again on more lists: another model, served like the first
    cands = [Candidate("The Bills won."), Candidate("Rain fell.")]
    again = Reader(tmp_path / "model").logits("Which team won?", cands)
    assert again.shape == (2,) and not np.allclose(again, first.logits("Which team won?", cands))
    # its choices are read from the run it repeats, so it may not overwrite it
    assert _train(tmp_path, tmp_path / "tiny", "--refit", str(chosen), "--out",
                  str(chosen)) == 2
    assert _train(tmp_path, tmp_path / "tiny", "--refit", str(tmp_path / "nothing")) == 2
    # a reader that does not record what a refit carries over is refused before training
    (chosen / "reader.json").write_text(json.dumps(
        {k: v for k, v in info.items() if k != "keep_share"}))
    assert _train(tmp_path, tmp_path / "tiny", "--refit", str(chosen), "--out",
                  str(tmp_path / "other")) == 2
    assert not (tmp_path / "other").exists()


def test_a_share_of_the_training_lists_trains_for_a_learning_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, _ = _trained(tmp_path, monkeypatch, "--kind", "dual", "--context", "sentence")
    assert _train(tmp_path, tmp_path / "tiny", "--epochs", "1", "--train-share", "0.5") == 0
    half = json.loads((tmp_path / "model" / "reader.json").read_text())
    assert half["train_lists"] == round(full["train_lists"] / 2)
    assert half["dev_lists"] == full["dev_lists"]
    for bad in ("0", "1.5"):
        with pytest.raises(SystemExit):
            _train(tmp_path, tmp_path / "tiny", "--train-share", bad)


def test_the_late_reader_trains_and_serves_the_maxsim_of_its_word_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, reader = _trained(tmp_path, monkeypatch, "--kind", "late", "--context", "sentence")
    assert info["kind"] == "late"
    import onnx

    graph = onnx.load(str(tmp_path / "model" / "reader.onnx")).graph
    assert [o.name for o in graph.output] == ["pieces"]  # every word piece's vector
    _serves_its_head(info, reader, [
        Candidate("The Bills won the final."), Candidate("Rain fell."),
        Candidate("Fans cheered loudly across the city on Sunday night.")])
