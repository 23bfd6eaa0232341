"""Weight averages of dual readers ("soups"), judged on the dev lists.

Dual readers fine-tuned from the same MiniLM weights (other seeds, other epochs) can be
averaged weight by weight into one reader that costs what one costs to run; averaging a reader
with the untrained MiniLM (``base``) moves it back toward where it started (WiSE-FT, Wortsman et
al. 2022), which is said to help on data further from training. Each source is a reader folder
(``reader.onnx`` int8 + ``reader.json``), optionally with a weight (``DIR:0.75``); the int8
weights are dequantized per channel, averaged and quantized again (symmetric, per channel, as
``newsqa train-reader`` exports them). The soup's fusion, calibration and abstention are then
chosen on the dev lists exactly as training chooses them, and written to its ``reader.json``,
so ``bench.reader_curve --reader OUT`` measures it like any reader.

    .venv/bin/python -m bench.reader_soup --out /tmp/soup DIR_A DIR_B DIR_C
    .venv/bin/python -m bench.reader_soup --out /tmp/wise DIR_A:0.75 base:0.25
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.reader.command import DEFAULT_DEV, DEFAULT_EXCLUDE, parse_span, parse_spans, split_lists

#: A source that stands for the untrained MiniLM, exported as a dual reader.
BASE = "base"


def parse_source(text: str) -> tuple[str, float]:
    """``DIR`` or ``DIR:WEIGHT`` (weight 1 when left out)."""
    path, sep, weight = text.rpartition(":")
    if not sep or not weight.replace(".", "", 1).isdigit():
        return text, 1.0
    return path, float(weight)


def dequantized(arrays: dict[str, np.ndarray], stem: str) -> tuple[np.ndarray, int]:
    """The float weight behind the int8 initializer ``stem + '_quantized'`` and the axis of
    its per-channel scales."""
    q = arrays[stem + "_quantized"].astype(np.float32)
    scale = arrays[stem + "_scale"]
    zero = arrays[stem + "_zero_point"].astype(np.float32)
    axis = 1 if q.shape[1] == scale.shape[0] else 0
    shape = [1, 1]
    shape[axis] = -1
    return (q - zero.reshape(shape)) * scale.reshape(shape), axis


def requantized(weight: np.ndarray, axis: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int8 of ``weight`` along ``axis``: the values and the scales."""
    scale = np.abs(weight).max(axis=1 - axis) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    shape = [1, 1]
    shape[axis] = -1
    q = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(dtype)
    return q, scale


def average(graphs: Sequence[Any], weights: Sequence[float]) -> Any:
    """A copy of the first ONNX graph with every trainable initializer replaced by the weighted
    mean of all graphs' (per-tensor quantized ones, the frozen embedding tables, are kept)."""
    from onnx import numpy_helper

    arrays = [{t.name: numpy_helper.to_array(t) for t in g.graph.initializer} for g in graphs]
    if any(set(a) != set(arrays[0]) for a in arrays):
        raise ValueError("the readers are not the same graph (another depth or kind)")
    w = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
    new: dict[str, np.ndarray] = {}
    for name, first in arrays[0].items():
        if name.endswith("_quantized"):
            stem = name[: -len("_quantized")]
            if arrays[0][stem + "_scale"].ndim == 0:
                continue
            parts = [dequantized(a, stem) for a in arrays]
            mean = np.tensordot(w, np.stack([p[0] for p in parts]), 1)
            new[name], new[stem + "_scale"] = requantized(mean, parts[0][1], first.dtype)
            new[stem + "_zero_point"] = np.zeros_like(arrays[0][stem + "_zero_point"])
        elif first.dtype == np.float32 and not name.endswith("_scale"):
            new[name] = np.tensordot(w, np.stack([a[name] for a in arrays]), 1).astype(
                np.float32)
    out = type(graphs[0])()
    out.CopyFrom(graphs[0])
    for t in out.graph.initializer:
        if t.name in new:
            t.CopyFrom(numpy_helper.from_array(new[t.name], t.name))
    return out


def base_reader(folder: Path, like: dict[str, Any]) -> Path:
    """The untrained MiniLM exported as a dual reader of ``like``'s depth, into ``folder``."""
    from newsqa.reader.dual import START_BIAS, START_WEIGHT, dual_net
    from newsqa.reader.inputs import PairTokenizer
    from newsqa.reader.runtime import tokenizer_path
    from newsqa.reader.train import export

    tok = PairTokenizer(tokenizer_path(), like["max_pieces"], like["context"])
    export(dual_net(like["layers"]).state_dict(), like["layers"], folder, tok, kind="dual")
    info = {**like, "head": {"weight": START_WEIGHT, "bias": START_BIAS}}
    (folder / "reader.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return folder


def dev_lists(work: Path) -> list[dict[str, Any]]:
    """The dev lists of the cached candidate lists under ``work``, as training reads them."""
    from newsqa.reader.collect import load_lists
    from newsqa.reader.fusion import shallow

    lists = [it for path in sorted(work.glob("lists-*.json")) for it in load_lists(path)]
    _, dev = split_lists(lists, parse_span(DEFAULT_EXCLUDE), parse_spans(DEFAULT_DEV))
    return [shallow(it) for it in dev]


def main(argv: list[str] | None = None) -> int:
    """Average the readers, choose the soup's fusion and calibration on dev, write it."""
    import onnx

    from newsqa.reader.fusion import chosen_on_dev
    from newsqa.reader.runtime import Reader
    from newsqa.reader.train import TrainConfig, candidates_of

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="+", help=f"reader folders, DIR[:WEIGHT]; {BASE!r}: "
                    "the untrained MiniLM")
    ap.add_argument("--out", type=Path, required=True, help="folder of the soup")
    ap.add_argument("--work", type=Path, default=Path("bench/.cache/reader2"),
                    help="the cached candidate lists (newsqa train-reader --work)")
    args = ap.parse_args(argv)
    sources = [parse_source(s) for s in args.sources]
    named = [Path(p) for p, _ in sources if p != BASE]
    if not named:
        print("error: name at least one trained reader", file=sys.stderr)
        return 2
    infos = {p: json.loads((p / "reader.json").read_text(encoding="utf-8")) for p in named}
    first = infos[named[0]]
    if any(i.get("kind") != "dual" for i in infos.values()):
        print("error: only dual readers are averaged", file=sys.stderr)
        return 2
    dev = dev_lists(args.work)
    if not dev:
        print(f"error: no cached dev lists under {args.work}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(p) if p != BASE else base_reader(Path(tmp), first) for p, _ in sources]
        heads = [json.loads((f / "reader.json").read_text(encoding="utf-8"))["head"]
                 for f in folders]
        weights = [w for _, w in sources]
        graph = average([onnx.load(str(f / "reader.onnx")) for f in folders], weights)
    onnx.save(graph, str(args.out / "reader.onnx"))
    share = np.asarray(weights) / float(np.sum(weights))
    head = {k: float(np.dot(share, [h[k] for h in heads])) for k in ("weight", "bias")}
    (args.out / "reader.json").write_text(json.dumps({**first, "head": head}), encoding="utf-8")
    reader = Reader(args.out)
    raw = [reader.logits(it["question"], candidates_of(it)) for it in dev]
    cfg = TrainConfig()
    chosen = chosen_on_dev(dev, raw, cfg.composer_weights, cfg.rank_penalties)
    info = {**first, **chosen, "head": head,
            "soup": [{"reader": p, "weight": w} for p, w in sources]}
    (args.out / "reader.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(f"soup of {len(sources)} readers -> {args.out} ({len(dev)} dev lists)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
