"""all-mpnet-base-v2 against the reader's other scorers on the reader's dev lists (issue 41,
item 4): does a 12-layer base start ahead, and what does it cost?

On the answerable dev lists (2023 May–June questions, collected from the full 2023 index by
``newsqa train-reader --collect-only``; July–December is never read), each candidate sentence is
scored by

- ``composer``: the composer's score of it, as collected;
- ``minilm-cos``: the cosine of the question's MiniLM vector with the sentence vector the index
  stored (int8 ONNX, the index's own embedder);
- ``reader-shipped``: the shipped reader's logit (:mod:`newsqa.reader.runtime`; D until
  issue 41's second pass, E since);
- ``mpnet-cos``: untrained all-mpnet-base-v2's cosine (mean pooling, normalised; the files
  verified by :mod:`newsqa.training.mpnet`);
- ``mpnet-dual`` (with ``--trained DIR``): a dual reader fine-tuned on mpnet
  (``newsqa train-reader --base mpnet``), its logit;
- ``reader:NAME`` (with ``--reader DIR``, repeatable): another MiniLM reader's logit.

For each: top-1 answer-sentence hit and MRR@10 over the candidates of the first 3 passages (what
an answer reads) and of all 10 collected; then fused with the composer as training fuses (the
composer weight and rank penalty chosen on these lists; cosines as ``20 × cosine − 10``, the
dual head's start), and the answer hit of the answers it would compose (``fusion.chosen_on_dev``).
The shipped reader is also shown at the fusion it ships with. Costs: CPU and wall time per question
at 3 passages (the question and its candidates encoded; ``minilm-cos`` encodes only the question,
its sentence vectors coming from the index), and milliseconds per batch of 16 median-length dev
sentences for each encoder (torch fp32 and bf16; ONNX int8 with ``--onnx``).

    .venv/bin/python -m bench.mpnet_dev [--lists FILE] [--trained DIR] [--reader DIR] [--onnx]
        [--only NAME,...] [--no-costs] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.serving_backend import cpu_flags
from bench.slice import CACHE, command_line, git_commit, now
from newsqa.eval import contains_answer
from newsqa.reader.inputs import Candidate, PairTokenizer
from newsqa.reader.runtime import MODEL_DIR, read_info
from newsqa.training.collect import VECTOR, load_lists
from newsqa.training.dual import START_BIAS, START_WEIGHT
from newsqa.training.fusion import DEV_DEPTH, SERVE_DEPTH, chosen_on_dev, fused, shallow
from newsqa.training.rebuild import split_lists
from newsqa.training.train import candidates_of

LISTS = CACHE / "reader" / "lists-realtimeqa-2023.json"
#: The dev span of 2023 (the 2024 November–December half needs a 2024 index).
DEV = [("2023-05-01", "2023-06-30")]
HELD_OUT = ("2023-07-01", "2023-12-31")
ALL_DEPTH = 10
Scores = Callable[[dict[str, Any]], np.ndarray]


def dev_lists(path: Path) -> list[dict[str, Any]]:
    """The dev lists of ``path``; a list dated in the held-out half stops the bench."""
    lists = load_lists(path)
    leaked = [it["id"] for it in lists if HELD_OUT[0] <= str(it["date"]) <= HELD_OUT[1]]
    if leaked:
        raise SystemExit(f"{path} holds {len(leaked)} held-out July–December lists: refusing")
    return split_lists(lists, HELD_OUT, DEV)[1]


def needed(item: dict[str, Any]) -> list[int]:
    """The candidates a figure reads: all of an answerable list's (top-1 and MRR@10 at 10
    passages), those of the first 5 passages of the others (the fusion's calibration)."""
    cands = item["candidates"]
    return [i for i, c in enumerate(cands) if item.get("answer") or c["rank"] < DEV_DEPTH]


def score_needed(fn: Scores, item: dict[str, Any]) -> np.ndarray:
    """``fn``'s scores of the :func:`needed` candidates; the others get -1e9 (never read)."""
    idx = needed(item)
    out = np.full(len(item["candidates"]), -1e9, dtype=np.float32)
    if idx:
        out[idx] = fn({**item, "candidates": [item["candidates"][i] for i in idx]})
    return out


def ranking(item: dict[str, Any], scores: np.ndarray, depth: int) -> tuple[bool, float]:
    """Top-1 answer-sentence hit and reciprocal rank of the first answer sentence within the
    first 10 (0 beyond), over the candidates of the first ``depth`` passages."""
    cands = item["candidates"]
    order = sorted((i for i, c in enumerate(cands) if c["rank"] < depth),
                   key=lambda i: -float(scores[i]))
    hits = [contains_answer(cands[i]["sentence"], item["answer"]) for i in order[:10]]
    first = hits.index(True) + 1 if True in hits else 0
    return bool(hits and hits[0]), 1.0 / first if first else 0.0


def figures(items: Sequence[dict[str, Any]], scores: Sequence[np.ndarray]) -> dict[str, float]:
    """Top-1 and MRR@10 at 3 passages and at all 10, over the answerable lists."""
    out: dict[str, float] = {}
    pairs = [(it, sc) for it, sc in zip(items, scores, strict=True) if it.get("answer")]
    for depth in (SERVE_DEPTH, ALL_DEPTH):
        got = [ranking(it, sc, depth) for it, sc in pairs]
        out[f"top1@{depth}p"] = round(sum(h for h, _ in got) / max(len(got), 1), 3)
        out[f"mrr10@{depth}p"] = round(sum(r for _, r in got) / max(len(got), 1), 3)
    return out


def fusion_figures(items: Sequence[dict[str, Any]], logits: Sequence[np.ndarray],
                   shipped: tuple[float, float] | None = None) -> dict[str, Any]:
    """The logits fused with the composer (choices made on ``items``, as training makes them):
    fused top-1/MRR@10 at 3 passages and the answer hit at the chosen keep share; with
    ``shipped`` (composer weight, rank penalty) also the top-1 at that fusion."""
    dev = [shallow(it) for it in items]
    raw = [lg[[i for i, c in enumerate(it["candidates"]) if c["rank"] < DEV_DEPTH]]
           for lg, it in zip(logits, items, strict=True)]
    chosen = chosen_on_dev(dev, raw, (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0),
                           (0.0, 0.25, 0.5, 1.0, 1.5, 2.0), log=lambda _: None)
    w, p = chosen["fusion"]["composer_weight"], chosen["rank_penalty"]
    got = figures(dev, fused(dev, raw, w, p))
    out: dict[str, Any] = {"composer_weight": w, "rank_penalty": p,
                           "fused_top1@3p": got["top1@3p"], "fused_mrr10@3p": got["mrr10@3p"],
                           "answer_hit": round(chosen["dev_answers"][chosen["keep_share"]]
                                               ["answer_hit"], 3)}
    if shipped is not None:
        out["shipped_fusion_top1@3p"] = figures(dev, fused(dev, raw, *shipped))["top1@3p"]
    return out


class Timer:
    """CPU (all threads) and wall seconds of each call, per question."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def __call__(self, fn: Callable[[], np.ndarray]) -> np.ndarray:
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        self.cpu.append(time.process_time() - c)
        self.wall.append(time.perf_counter() - w)
        return out

    def summary(self) -> dict[str, float]:
        """Mean and median milliseconds of CPU and of wall time a question."""
        return {"cpu_ms_mean": round(1000 * statistics.fmean(self.cpu), 1),
                "cpu_ms_p50": round(1000 * statistics.median(self.cpu), 1),
                "wall_ms_p50": round(1000 * statistics.median(self.wall), 1)}


class TorchEncoder:
    """A dual net (:func:`newsqa.training.dual.dual_net`) as texts → unit vectors, and the
    logits of a question's candidates; ``state`` loads fine-tuned weights."""

    def __init__(self, base: str, layers: int, state: Path | None = None,
                 bf16: bool = False) -> None:
        import torch

        from newsqa.training.base import base_tokenizer
        from newsqa.training.dual import dual_net

        self.net = dual_net(layers, "eager", base=base)
        if state is not None:
            from safetensors.torch import load_file

            self.net.load_state_dict(load_file(str(state)))
        self.net.eval()
        self.tok = PairTokenizer(base_tokenizer(base), 128)
        self.bf16 = bf16
        self._torch = torch

    def embed(self, texts: Sequence[str], batch: int = 16) -> np.ndarray:
        """Unit vectors of ``texts``, in batches of similar length."""
        torch = self._torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        rows = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                    enabled=self.bf16):
            for s in range(0, len(order), batch):
                arrays = self.tok.encode_texts([texts[i] for i in order[s:s + batch]])
                rows.append(self.net(*(torch.from_numpy(a) for a in arrays)).float().numpy())
        if rows:
            stacked = np.concatenate(rows)
            out = np.empty_like(stacked)
            out[order] = stacked
        return out

    def cosines(self, question: str, cands: Sequence[Candidate]) -> np.ndarray:
        """Cosine of each candidate's sentence with the question."""
        vecs = self.embed([question] + [c.sentence for c in cands])
        return vecs[1:] @ vecs[0]

    def logits(self, question: str, cands: Sequence[Candidate]) -> np.ndarray:
        """The net's head on those cosines."""
        w = float(self.net.head.weight.reshape(-1)[0])
        b = float(self.net.head.bias.reshape(-1)[0])
        return (w * self.cosines(question, cands) + b).astype(np.float32)


def head(x: np.ndarray) -> np.ndarray:
    """A cosine as a logit for the fusion: the dual head's start, ``20 × cosine − 10``."""
    return START_WEIGHT * x + START_BIAS


def same(x: np.ndarray) -> np.ndarray:
    """A score that is already a logit."""
    return x


def scorers(args: argparse.Namespace, only: set[str]
            ) -> dict[str, tuple[Scores, Callable[[np.ndarray], np.ndarray]]]:
    """Each scorer (of ``only``, or all): (a list's candidates' raw scores, what makes them
    logits for the fusion). The models are loaded only for the scorers that run."""
    from newsqa.embedding.factory import load_embedder
    from newsqa.reader.runtime import Reader

    def want(name: str) -> bool:
        return not only or name in only

    minilm = load_embedder(backend="onnx-int8") if want("minilm-cos") else None
    reader = Reader() if want("reader-shipped") else None
    mpnet = TorchEncoder("mpnet", 12) if want("mpnet-cos") else None

    def minilm_cos(it: dict[str, Any]) -> np.ndarray:
        assert minilm is not None
        q = minilm.encode([it["question"]])[0]
        return np.stack([np.asarray(c[VECTOR], np.float32) for c in it["candidates"]]) @ q

    def mpnet_cos(it: dict[str, Any]) -> np.ndarray:
        assert mpnet is not None
        return mpnet.cosines(it["question"], candidates_of(it))

    def composer(it: dict[str, Any]) -> np.ndarray:
        return np.array([c["composer"] for c in it["candidates"]], np.float32)

    def reader_shipped(it: dict[str, Any]) -> np.ndarray:
        assert reader is not None
        return reader.logits(it["question"], candidates_of(it))

    out: dict[str, tuple[Scores, Callable[[np.ndarray], np.ndarray]]] = {
        "composer": (composer, same), "minilm-cos": (minilm_cos, head),
        "reader-shipped": (reader_shipped, same), "mpnet-cos": (mpnet_cos, head)}
    for folder in args.reader:
        if want(f"reader:{folder.name}"):
            other = Reader(folder)
            out[f"reader:{folder.name}"] = (partial(reader_logits, other), same)
    if args.trained and want("mpnet-dual"):
        tuned = TorchEncoder("mpnet", 12, args.trained / "reader.safetensors")

        def tuned_logits(it: dict[str, Any]) -> np.ndarray:
            return tuned.logits(it["question"], candidates_of(it))

        out["mpnet-dual"] = (tuned_logits, same)
    return {name: fns for name, fns in out.items() if want(name)}


def reader_logits(reader: Any, item: dict[str, Any]) -> np.ndarray:
    """A runtime reader's logits of a list's candidates."""
    return np.asarray(reader.logits(item["question"], candidates_of(item)))


def batch_costs(sentences: Sequence[str], onnx: bool, repeats: int = 15) -> dict[str, float]:
    """Median milliseconds to embed one batch of 16 median-length ``sentences``, per encoder."""
    from newsqa.reader.runtime import Reader

    mid = sorted(sentences, key=len)
    batch = mid[len(mid) // 2 - 8: len(mid) // 2 + 8]

    def median_ms(fn: Callable[[], Any]) -> float:
        fn()
        got = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            got.append(time.perf_counter() - t)
        return round(1000 * statistics.median(got), 1)

    out: dict[str, float] = {"batch_chars_mean": round(statistics.fmean(map(len, batch)), 1)}
    reader = Reader()
    out["minilm6 D onnx-int8"] = median_ms(lambda: reader.embed(batch))
    for base, layers in (("minilm", 6), ("mpnet", 12)):
        enc = TorchEncoder(base, layers)
        for bf16 in (False, True):
            enc.bf16 = bf16
            out[f"{base}{layers} torch {'bf16' if bf16 else 'fp32'}"] = median_ms(
                partial(enc.embed, batch))
    if onnx:
        out["mpnet12 onnx-int8"] = median_ms(mpnet_onnx_int8(batch))
    return out


def mpnet_onnx_int8(batch: Sequence[str]) -> Callable[[], np.ndarray]:
    """Untrained MPNet exported to ONNX with int8 weights (per channel), cached under
    ``bench/.cache/mpnet-onnx``: a function embedding ``batch`` with it."""
    import onnxruntime as ort

    folder = CACHE / "mpnet-onnx"
    int8 = folder / "mpnet.int8.onnx"
    enc = TorchEncoder("mpnet", 12)
    if not int8.exists():
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        folder.mkdir(parents=True, exist_ok=True)
        fp32 = folder / "mpnet.fp32.onnx"
        ids, mask, types = enc.tok.encode_texts(list(batch))
        axes = {0: "batch", 1: "pieces"}
        with torch.no_grad():
            torch.onnx.export(enc.net, tuple(torch.from_numpy(a) for a in (ids, mask, types)),
                              str(fp32), input_names=["input_ids", "attention_mask",
                                                      "token_type_ids"],
                              output_names=["embedding"], opset_version=17, dynamo=False,
                              dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                            "token_type_ids": axes, "embedding": {0: "batch"}})
        quantize_dynamic(str(fp32), str(int8), per_channel=True, weight_type=QuantType.QInt8)
        fp32.unlink()
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    arrays = dict(zip(("input_ids", "attention_mask", "token_type_ids"),
                      enc.tok.encode_texts(list(batch)), strict=True))
    feed = {k: v for k, v in arrays.items() if k in names}
    return lambda: session.run(["embedding"], feed)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Score the dev lists every way, time them, print a markdown table and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lists", type=Path, default=LISTS)
    ap.add_argument("--trained", type=Path, default=None,
                    help="a folder of newsqa train-reader --base mpnet (reader.safetensors)")
    ap.add_argument("--reader", type=Path, action="append", default=[],
                    help="another MiniLM reader folder (reader.onnx) to score, repeatable")
    ap.add_argument("--onnx", action="store_true", help="also time MPNet as int8 ONNX")
    ap.add_argument("--only", default="", help="comma-separated scorers to run (default all)")
    ap.add_argument("--no-costs", action="store_true", help="skip the batch-of-16 timings")
    ap.add_argument("--timing-only", action="store_true",
                    help="only the timings (per question at 3 passages, batches of 16)")
    ap.add_argument("--timed", type=int, default=40,
                    help="answerable lists timed at 3 passages (default %(default)s)")
    ap.add_argument("--out", type=Path, default=CACHE / "mpnet_dev.json")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    dev = dev_lists(args.lists)
    info = read_info(MODEL_DIR)
    answerable = [it for it in dev if it.get("answer")]
    print(f"{len(dev)} dev lists ({len(answerable)} answerable), "
          f"{sum(len(it['candidates']) for it in dev)} candidates; CPU {cpu_flags()}, "
          f"{torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}", flush=True)
    rows: dict[str, dict[str, Any]] = {}
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    for name, (raw_of, to_logits) in scorers(args, only).items():
        started = time.time()
        raw = [] if args.timing_only else [score_needed(raw_of, it) for it in dev]
        timer = Timer()
        for it in answerable[: args.timed]:
            served = shallow(it, SERVE_DEPTH)
            timer(partial(raw_of, served))
        shipped = ((info.composer_weight, info.rank_penalty) if name == "reader-shipped"
                   else None)
        got = {} if args.timing_only else {
            **figures(dev, raw), **fusion_figures(dev, [to_logits(r) for r in raw], shipped)}
        rows[name] = {**got, **timer.summary(), "seconds": round(time.time() - started)}
        print(name, json.dumps(rows[name]), flush=True)
    sentences = [c["sentence"] for it in answerable for c in it["candidates"]]
    costs = {} if args.no_costs else batch_costs(sentences, args.onnx)
    print("ms per batch of 16:", json.dumps(costs), flush=True)
    keys = ["top1@3p", "mrr10@3p", "top1@10p", "mrr10@10p", "fused_top1@3p", "answer_hit",
            "cpu_ms_p50"]
    print("\n| scorer | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
    payload = {"when": now(), "commit": git_commit(), "command": command_line(),
               "cpu_flags": cpu_flags(), "threads": torch.get_num_threads(),
               "load_1min": os.getloadavg()[0], "dev_lists": len(dev),
               "answerable": len(answerable), "scorers": rows,
               "batch16_ms": costs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
