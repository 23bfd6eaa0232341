"""Train the reader: MiniLM (or MPNet, ``base``) cut to its first ``layers`` layers, fine-tuned
on labelled candidate lists (:mod:`newsqa.training.collect`) as a dual reader (question and
candidate embedded apart, their cosine scored: :mod:`newsqa.training.dual`), then exported to
ONNX and quantized to int8 (MiniLM only). It imports torch; serving never imports this package.

Loss per question: listwise (the softmax share of the list that falls on its positives) plus a
pointwise logistic loss on every candidate, so that a logit also means something across
questions (a list with no positive, such as an unanswerable question's, teaches "nothing here
answers"). Epochs are chosen on the ``dev`` lists, and the abstention calibration is fit on them.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.reader.dual import KIND
from newsqa.reader.inputs import CONTEXT, MAX_PIECES, Candidate, PairTokenizer
from newsqa.training.base import base_description, base_tokenizer
from newsqa.training.collect import VECTOR
from newsqa.training.dual import dual_net, export_dual, group_logits, head_of
from newsqa.training.fusion import (
    SERVE_DEPTH,
    best_fusion,
    chosen_on_dev,
    dev_report,
    fused,
    shallow,
)

#: Seconds between progress lines while an epoch trains.
PROGRESS_EVERY = 60.0


@dataclass
class TrainConfig:
    """Choices of a training run (each recorded in ``reader.json``)."""

    layers: int = 6
    max_pieces: int = MAX_PIECES
    epochs: int = 2
    group: int = 10  # candidates of one question per step: its positives, then negatives
    negative_group: int = 8  # candidates of a list without a positive
    negative_share: float = 0.3  # share of the lists without a positive used in an epoch
    groups_per_step: int = 2
    lr: float = 5e-5
    head_lr: float = 1e-3
    pointwise_weight: float = 0.5
    listwise_weight: float = 1.0
    warmup: float = 0.1
    seed: int = 13
    max_steps: int | None = None  # stop early (tests)
    other_outlets_positive: bool = True  # another article's sentence holding the answer
    rank_penalties: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
    composer_weights: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)
    hard_share: float = 0.5  # of a group's negatives, drawn from those the composer rates best
    threads: int | None = None
    base: str = "minilm"  # or "mpnet": newsqa.training.base.BASES


def candidates_of(item: dict[str, Any]) -> list[Candidate]:
    """The :class:`Candidate` of each entry of a collected list."""
    return [Candidate(c["sentence"], c.get("title", ""), c.get("before", ""), c.get(VECTOR))
            for c in item["candidates"]]


def has_positive(item: dict[str, Any]) -> bool:
    """Whether a list holds a candidate labelled as answering."""
    return any(c["label"] == 1 for c in item["candidates"])


def _group(item: dict[str, Any], size: int, rng: random.Random, hard: float = 0.0) -> list[int]:
    """A question's positives and a sample of its negatives, ``size`` in all: a ``hard`` share
    of the negatives drawn from those the composer scores highest (twice as many as needed),
    the rest from all of them."""
    cands = item["candidates"]
    pos = [i for i, c in enumerate(cands) if c["label"] == 1]
    neg = [i for i, c in enumerate(cands) if c["label"] == 0]
    rng.shuffle(pos)
    pos = pos[: max(1, size // 4)]
    want = size - len(pos)
    n_hard = int(round(hard * want))
    top = sorted(neg, key=lambda i: -cands[i].get("composer", 0.0))[: 2 * n_hard]
    picked = rng.sample(top, min(n_hard, len(top)))
    rest = [i for i in neg if i not in set(picked)]
    rng.shuffle(rest)
    return pos + picked + rest[: want - len(picked)]


def score_lists(
    logits_of: Callable[[str, Sequence[Candidate]], np.ndarray], items: Sequence[dict[str, Any]]
) -> list[np.ndarray]:
    """Logits of every candidate of every list, through ``logits_of``."""
    return [logits_of(item["question"], candidates_of(item)) for item in items]


def _scorer(
    model: Any, tok: PairTokenizer, bf16: bool, batch: int = 32
) -> Callable[[str, Sequence[Candidate]], np.ndarray]:
    """The torch model's logits of one question's candidates, as a function (no gradients)."""
    import torch

    def logits_of(question: str, cands: Sequence[Candidate]) -> np.ndarray:
        out = np.zeros(len(cands), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for s in range(0, len(cands), batch):
                got = group_logits(model, tok, [(question, cands[s:s + batch])])
                out[s:s + batch] = got.float().numpy()
        return out

    return logits_of


def _loss(cfg: TrainConfig, logits: Any, labels: list[list[int]]) -> Any:
    """The pointwise logistic loss on every candidate plus the listwise loss of each group
    with a positive."""
    import torch

    y = torch.tensor([v for lab in labels for v in lab], dtype=torch.float32)
    loss = cfg.pointwise_weight * torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    at = 0
    listwise = []
    for lab in labels:
        lg, yy = logits[at:at + len(lab)], y[at:at + len(lab)]
        at += len(lab)
        if yy.sum() > 0:
            listwise.append(torch.logsumexp(lg, 0) - torch.logsumexp(lg[yy > 0], 0))
    if listwise:
        loss = loss + cfg.listwise_weight * torch.stack(listwise).mean()
    return loss


def train(
    lists: Sequence[dict[str, Any]], dev: Sequence[dict[str, Any]], out_dir: Path,
    cfg: TrainConfig, log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train on ``lists``, pick the epoch on ``dev``, write ``reader.onnx`` (int8) and
    ``reader.json`` into ``out_dir``; returns what ``reader.json`` records. A reader on another
    base than MiniLM (which serving cannot run: its word pieces are not MiniLM's) is not
    exported: its weights are saved as ``reader.safetensors`` beside ``reader.json``."""
    import torch

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from newsqa.embedding.cpu import cpu_has_native_bf16

    bf16 = cpu_has_native_bf16()
    tok = PairTokenizer(base_tokenizer(cfg.base), cfg.max_pieces, CONTEXT)
    model = dual_net(cfg.layers, base=cfg.base)
    if cfg.other_outlets_positive:
        lists = [{**it, "candidates": [{**c, "label": abs(c["label"])} for c in it["candidates"]]}
                 for it in lists]
    usable = [it for it in lists if any(c["label"] >= 0 for c in it["candidates"])]
    dev = [shallow(it) for it in dev]
    per_epoch = sum(has_positive(it) for it in usable) + cfg.negative_share * sum(
        not has_positive(it) for it in usable)
    steps_per_epoch = max(1, math.ceil(per_epoch / cfg.groups_per_step))
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    opt = torch.optim.AdamW([
        {"params": [p for p in model.bert.parameters() if p.requires_grad], "lr": cfg.lr},
        {"params": list(model.head.parameters()), "lr": cfg.head_lr},
    ], weight_decay=0.01)
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    rng = random.Random(cfg.seed)
    logits_of = _scorer(model, tok, bf16)

    curve: list[dict[str, Any]] = []
    # (dev top-1, epoch, weights, dev logits): the kept epoch's dev logits are reused below
    best: tuple[float, int, dict[str, Any], list[np.ndarray]] | None = None
    kept = 0
    step = 0
    started = time.time()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = [i for i, it in enumerate(usable)
                 if has_positive(it) or rng.random() < cfg.negative_share]
        rng.shuffle(order)
        losses = []
        pairs = 0
        epoch_started = shown = time.time()
        for s in range(0, len(order), cfg.groups_per_step):
            if step >= total:
                break
            labels, batch_groups = [], []
            for qi in order[s:s + cfg.groups_per_step]:
                item = usable[qi]
                size = cfg.group if has_positive(item) else cfg.negative_group
                pick = _group(item, size, rng, cfg.hard_share)
                cands = candidates_of(item)
                batch_groups.append((item["question"], [cands[i] for i in pick]))
                labels.append([item["candidates"][i]["label"] for i in pick])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = group_logits(model, tok, batch_groups).float()
            loss = _loss(cfg, logits, labels)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            pairs += len(logits)
            losses.append(float(loss.detach()))
            if time.time() - shown >= PROGRESS_EVERY:
                shown = time.time()
                log(f"epoch {epoch}: step {step}/{total}, loss {np.mean(losses[-50:]):.3f}, "
                    f"{pairs / max(shown - epoch_started, 1e-9):.1f} pairs/s")
        model.eval()
        raw = score_lists(logits_of, dev)
        weight, penalty = best_fusion(dev, raw, cfg.composer_weights, cfg.rank_penalties)
        fused_report = dev_report(dev, fused(dev, raw, weight, penalty))
        row: dict[str, Any] = {
            "epoch": epoch, "steps": step, "loss": float(np.mean(losses)) if losses else None,
            "pairs": pairs, "seconds": round(time.time() - started, 1),
            **dev_report(dev, fused(dev, raw, 0.0, 0.0)),
            "fused": {"composer_weight": weight, "rank_penalty": penalty, **fused_report}}
        key = fused_report[f"top1@{SERVE_DEPTH}"]
        if best is None or key > best[0]:
            best = (key, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()},
                    raw)
        curve.append(row)
        log(json.dumps(row))
        kept = best[1]
        if step >= total:
            break
    if best is not None:
        model.load_state_dict(best[2])
    model.eval()
    if cfg.base != "minilm":  # saved first: what follows reads the dev lists only
        from safetensors.torch import save_file

        out_dir.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                  str(out_dir / "reader.safetensors"))
    kept_raw = best[3] if best is not None else score_lists(logits_of, dev)
    chosen = chosen_on_dev(dev, kept_raw, cfg.composer_weights,
                           cfg.rank_penalties, log)
    info = {
        "format": 1, "base": base_description(cfg.base, cfg.layers), "layers": cfg.layers,
        "max_pieces": cfg.max_pieces,
        "context": CONTEXT, "kind": KIND, **chosen,
        "epoch": kept, "config": asdict(cfg), "curve": curve, "bf16_training": bf16,
        "train_lists": len(usable), "dev_lists": len(dev),
        "trained_at": time.strftime("%Y-%m-%d"), "train_seconds": round(time.time() - started),
        "head": head_of(model),
    }
    if cfg.base == "minilm":
        export(model.state_dict(), cfg.layers, out_dir, tok)
    from newsqa.reader.probe import probe_pairs

    model.float()
    fp32 = _scorer(model, tok, bf16=False)
    info["probe"] = [[float(x) for x in fp32(q, cands)] for q, cands in probe_pairs()]
    (out_dir / "reader.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def export(state: dict[str, Any], layers: int, out_dir: Path, tok: PairTokenizer) -> None:
    """``reader.onnx``: the trained weights ``state`` as an ONNX graph with int8 weights (per
    channel). Traced with eager attention, which honours the mask for any batch shape."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / "reader.fp32.onnx"
    export_dual(state, layers, fp32, tok)
    quantize_dynamic(str(fp32), str(out_dir / "reader.onnx"), per_channel=True,
                     weight_type=QuantType.QInt8)
    fp32.unlink()
