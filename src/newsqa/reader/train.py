"""Train the reader: MiniLM cut to its first ``layers`` layers, fine-tuned on labelled candidate
lists (:mod:`newsqa.reader.collect`) as a dual reader (question and candidate embedded
apart, their cosine scored: :mod:`newsqa.reader.dual`, the default), as a query reader (the
question alone embedded, compared with the sentence vectors the lists carry) or as a
cross-encoder (read together, a one-unit head on ``[CLS]``), then exported to ONNX and quantized
to int8. The only part of newsqa that trains; it imports torch.

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
from typing import TYPE_CHECKING, Any

import numpy as np

from newsqa.reader.collect import VECTOR, has_vectors
from newsqa.reader.dual import (
    ADAPTER_FILE,
    APART_KINDS,
    KINDS,
    dual_net,
    export_dual,
    group_logits,
    head_of,
)
from newsqa.reader.fusion import (
    SERVE_DEPTH,
    best_fusion,
    carried,
    chosen_on_dev,
    dev_report,
    fit_offset,
    fused,
    shallow,
)
from newsqa.reader.inputs import MAX_PIECES, Candidate, PairTokenizer
from newsqa.reader.runtime import tokenizer_path

if TYPE_CHECKING:
    from newsqa.embedding.base import Embedder

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
    context: str = "sentence"  # what a candidate is read with (inputs.CONTEXTS)
    # "dual" (the shipped reader's): question and candidate each embedded apart as the shipped
    # embedder does, the logit a weight times their cosine (reader.dual); "late": apart, piece
    # by piece, the logit a weight times their maxsim; "cross": read together, a head on [CLS].
    kind: str = "dual"
    warmup: float = 0.1
    seed: int = 13
    max_steps: int | None = None  # stop early (tests)
    other_outlets_positive: bool = True  # another article's sentence holding the answer
    rank_penalties: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)
    composer_weights: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)
    # On: the composer's score of each candidate, times the weight that best explains the
    # training lists alone, is added to the model's logit while it trains, so the model learns
    # what the composer misses. Off (the dev lists' pick, by a hair): it learns alone and is
    # fused only afterwards.
    offset: bool = False
    hard_share: float = 0.5  # of a group's negatives, drawn from those the composer rates best
    same_article_share: float = 0.0  # of a group's negatives, from the positives' own articles
    threads: int | None = None
    # On: a second head scores every word piece of the candidate side as part of the answer or
    # not, trained on where the gold answer is written (``span_weight`` × its logistic loss),
    # and a candidate's logit adds its best word piece's score: the model must find the answer
    # itself in the sentence, not only the topic.
    span: bool = False
    span_weight: float = 1.0
    adapter: bool = False  # a query reader's linear map of the stored candidate vectors


def candidates_of(item: dict[str, Any]) -> list[Candidate]:
    """The :class:`Candidate` of each entry of a collected list."""
    return [Candidate(c["sentence"], c.get("title", ""), c.get("before", ""), c.get(VECTOR))
            for c in item["candidates"]]


class _Model:
    """The torch cross-encoder (built lazily so importing this module needs no torch)."""

    def __init__(self, layers: int, attention: str = "sdpa", span: bool = False) -> None:
        import torch

        from newsqa.reader.base import minilm

        separator = PairTokenizer(tokenizer_path()).piece_id("|") if span else 0
        bert = minilm(layers, attention)

        class CrossEncoder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert
                self.head = torch.nn.Linear(bert.config.hidden_size, 1)
                self.pieces = torch.nn.Linear(bert.config.hidden_size, 1) if span else None
                self.piece_logits: Any = None  # the last forward's, for the training loss

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                states = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                   token_type_ids=token_type_ids).last_hidden_state
                logit = self.head(states[:, 0]).squeeze(-1)
                if self.pieces is None:
                    return logit
                pieces = self.pieces(states).squeeze(-1)
                self.piece_logits = pieces
                return logit + sentence_max(
                    pieces, input_ids, attention_mask, token_type_ids, separator)

        self.net = CrossEncoder()


def sentence_max(
    pieces: Any, input_ids: Any, attention_mask: Any, token_type_ids: Any, separator: int
) -> Any:
    """Per pair, the best word-piece score of the candidate's own sentence: its side of the
    pair up to the first ``separator`` (its headline and the sentence before it follow, see
    :func:`newsqa.reader.inputs.candidate_text`), so a neighbour of the answer gains nothing."""
    import torch

    side = (attention_mask * token_type_ids) > 0
    seps = torch.cumsum((side & (input_ids == separator)).long(), dim=1)
    return pieces.masked_fill(~(side & (seps == 0)), -1e4).amax(dim=1)


def has_positive(item: dict[str, Any]) -> bool:
    """Whether a list holds a candidate labelled as answering."""
    return any(c["label"] == 1 for c in item["candidates"])


def _group(
    item: dict[str, Any], size: int, rng: random.Random, hard: float = 0.0,
    same_article: float = 0.0,
) -> list[int]:
    """A question's positives and a sample of its negatives, ``size`` in all: a
    ``same_article`` share of those drawn from the other sentences of the positives' articles
    (the neighbours a reader most often mistakes for the answer), a ``hard`` share of the rest
    from the negatives the composer scores highest (twice as many as needed), the rest from
    all of them."""
    cands = item["candidates"]
    pos = [i for i, c in enumerate(cands) if c["label"] == 1]
    neg = [i for i, c in enumerate(cands) if c["label"] == 0]
    rng.shuffle(pos)
    pos = pos[: max(1, size // 4)]
    want = size - len(pos)
    urls = {cands[i].get("url") for i in pos}
    near = [i for i in neg if cands[i].get("url") in urls]
    picked = rng.sample(near, min(int(round(same_article * want)), len(near)))
    n_hard = int(round(hard * (want - len(picked))))
    taken = set(picked)
    top = sorted((i for i in neg if i not in taken),
                 key=lambda i: -cands[i].get("composer", 0.0))[: 2 * n_hard]
    picked += rng.sample(top, min(n_hard, len(top)))
    rest = [i for i in neg if i not in set(picked)]
    rng.shuffle(rest)
    return pos + picked + rest[: want - len(picked)]


def score_lists(
    logits_of: Callable[[str, Sequence[Candidate]], np.ndarray], items: Sequence[dict[str, Any]]
) -> list[np.ndarray]:
    """Logits of every candidate of every list, through ``logits_of``."""
    return [logits_of(item["question"], candidates_of(item)) for item in items]


def _scorer(
    model: Any, tok: PairTokenizer, kind: str, bf16: bool, batch: int = 32
) -> Callable[[str, Sequence[Candidate]], np.ndarray]:
    """The torch model's logits of one question's candidates, as a function (no gradients)."""
    import torch

    def logits_of(question: str, cands: Sequence[Candidate]) -> np.ndarray:
        out = np.zeros(len(cands), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for s in range(0, len(cands), batch):
                part = cands[s:s + batch]
                if kind in APART_KINDS:
                    got = group_logits(model, tok, [(question, part)], kind == "query")
                else:
                    ids, mask, types = tok.encode(question, part)
                    got = model(torch.from_numpy(ids), torch.from_numpy(mask),
                                torch.from_numpy(types))
                out[s:s + batch] = got.float().numpy()
        return out

    return logits_of


def train(
    lists: Sequence[dict[str, Any]], dev: Sequence[dict[str, Any]], out_dir: Path,
    cfg: TrainConfig, log: Callable[[str], None] = print,
    embedder: Embedder | None = None, refit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on ``lists``, pick the epoch on ``dev``, write ``reader.onnx`` (int8) and
    ``reader.json`` into ``out_dir``; returns what ``reader.json`` records. ``embedder``: the
    one whose sentence vectors the lists carry; a ``query`` reader records its model (it reads
    only an index of that model's vectors) and embeds its probe candidates with it (the probe
    logits are recorded only with it).

    ``refit``: the ``reader.json`` of a run whose choices were made on the dev lists; the model
    is trained for all of ``cfg.epochs`` (the dev lists then usually among ``lists``), the last
    epoch kept, and that run's fusion, calibration and abstention carried over unchanged
    (nothing is chosen on ``dev``, which may be empty)."""
    import torch

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from newsqa.embedding.cpu import cpu_has_native_bf16

    bf16 = cpu_has_native_bf16()
    if cfg.kind not in KINDS:
        raise ValueError(f"unknown reader kind {cfg.kind!r} (one of {', '.join(KINDS)})")
    if cfg.adapter and cfg.kind != "query":
        raise ValueError("the candidate adapter is a query reader's (--kind query)")
    if cfg.kind != "cross" and cfg.span:
        raise ValueError("the word-piece head (span) needs the cross reader")
    if cfg.kind == "query" and not (has_vectors(lists) and has_vectors(dev)):
        raise ValueError("a query reader trains on lists whose candidates carry their sentence "
                         "vectors: collect them again (delete the cached lists)")
    tok = PairTokenizer(tokenizer_path(), cfg.max_pieces, cfg.context)
    model = (dual_net(cfg.layers, adapter=cfg.adapter, late=cfg.kind == "late")
             if cfg.kind in APART_KINDS
             else _Model(cfg.layers, span=cfg.span).net)
    if cfg.other_outlets_positive:
        lists = [{**it, "candidates": [{**c, "label": abs(c["label"])} for c in it["candidates"]]}
                 for it in lists]
    usable = [it for it in lists if any(c["label"] >= 0 for c in it["candidates"])]
    dev = [shallow(it) for it in dev]
    offset = fit_offset(usable, cfg.composer_weights) if cfg.offset else 0.0
    log(f"composer weight in training: {offset}")
    per_epoch = sum(has_positive(it) for it in usable) + cfg.negative_share * sum(
        not has_positive(it) for it in usable)
    steps_per_epoch = max(1, math.ceil(per_epoch / cfg.groups_per_step))
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    head = list(model.head.parameters())
    adapter: Any = getattr(model, "adapter", None)
    if adapter is not None:
        head += list(adapter.parameters())
    opt = torch.optim.AdamW([
        {"params": [p for p in model.bert.parameters() if p.requires_grad], "lr": cfg.lr},
        {"params": head, "lr": cfg.head_lr},
    ], weight_decay=0.01)
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    rng = random.Random(cfg.seed)

    logits_of = _scorer(model, tok, cfg.kind, bf16)

    curve: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
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
            batch_ids, batch_mask, batch_types, labels, groups, comp = [], [], [], [], [], []
            batch_spans, batch_groups = [], []
            for qi in order[s:s + cfg.groups_per_step]:
                item = usable[qi]
                size = cfg.group if has_positive(item) else cfg.negative_group
                if cfg.kind == "query":  # candidates cost nothing to read: the whole list
                    size = max(size, len(item["candidates"]))
                pick = _group(item, size, rng, cfg.hard_share, cfg.same_article_share)
                cands = candidates_of(item)
                batch_groups.append((item["question"], [cands[i] for i in pick]))
                labels.append([item["candidates"][i]["label"] for i in pick])
                comp += [item["candidates"][i].get("composer", 0.0) for i in pick]
                groups.append(len(pick))
                if cfg.kind in APART_KINDS:
                    continue
                ids, mask, types = tok.encode(item["question"], [cands[i] for i in pick])
                batch_ids.append(ids)
                batch_mask.append(mask)
                batch_types.append(types)
                if cfg.span:
                    batch_spans.append(tok.answer_tokens(
                        item["question"], [cands[i] for i in pick], item.get("answer") or "",
                        ids.shape[1]))
            width = max((a.shape[1] for a in batch_ids), default=1)

            def pad(arrs: list[np.ndarray], w: int = width) -> Any:
                return torch.from_numpy(np.concatenate(
                    [np.pad(a, ((0, 0), (0, w - a.shape[1]))) for a in arrs]))

            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if cfg.kind in APART_KINDS:
                    logits = group_logits(model, tok, batch_groups, cfg.kind == "query").float()
                else:
                    logits = model(pad(batch_ids), pad(batch_mask), pad(batch_types)).float()
            logits = logits + offset * torch.tensor(comp, dtype=torch.float32)
            y = torch.tensor([v for lab in labels for v in lab], dtype=torch.float32)
            loss = cfg.pointwise_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y)
            at = 0
            listwise = []
            for n in groups:
                lg, yy = logits[at:at + n], y[at:at + n]
                at += n
                if yy.sum() > 0:
                    listwise.append(torch.logsumexp(lg, 0) - torch.logsumexp(lg[yy > 0], 0))
            if listwise:
                loss = loss + cfg.listwise_weight * torch.stack(listwise).mean()
            if cfg.span:
                side = (pad(batch_mask) * pad(batch_types)) > 0
                bce = torch.nn.functional.binary_cross_entropy_with_logits
                loss = loss + cfg.span_weight * bce(
                    model.piece_logits.float()[side], pad(batch_spans)[side])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            pairs += len(y)
            losses.append(float(loss.detach()))
            if time.time() - shown >= PROGRESS_EVERY:
                shown = time.time()
                log(f"epoch {epoch}: step {step}/{total}, loss {np.mean(losses[-50:]):.3f}, "
                    f"{pairs / max(shown - epoch_started, 1e-9):.1f} pairs/s")
        model.eval()
        row: dict[str, Any] = {
            "epoch": epoch, "steps": step, "loss": float(np.mean(losses)) if losses else None,
            "pairs": pairs, "seconds": round(time.time() - started, 1)}
        if refit is None:  # a refit chooses nothing: every epoch runs and the last is kept
            raw = score_lists(logits_of, dev)
            weight, penalty = best_fusion(dev, raw, cfg.composer_weights + (offset,),
                                          cfg.rank_penalties)
            fused_report = dev_report(dev, fused(dev, raw, weight, penalty))
            row.update(dev_report(dev, fused(dev, raw, offset, 0.0)), fused={
                "composer_weight": weight, "rank_penalty": penalty, **fused_report})
            key = fused_report[f"top1@{SERVE_DEPTH}"]
            if best is None or key > best[0]:
                best = (key, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        curve.append(row)
        log(json.dumps(row))
        kept = best[1] if best is not None else epoch
        if step >= total:
            break
    if best is not None:
        model.load_state_dict(best[2])
    model.eval()
    chosen = (carried(refit) if refit is not None else chosen_on_dev(
        dev, score_lists(logits_of, dev), cfg.composer_weights + (offset,), cfg.rank_penalties,
        offset, log))
    info = {
        "format": 1, "base": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), first "
        f"{cfg.layers} layers", "layers": cfg.layers, "max_pieces": cfg.max_pieces,
        "context": cfg.context, "kind": cfg.kind, **chosen,
        "epoch": kept, "config": asdict(cfg), "curve": curve, "bf16_training": bf16,
        "train_lists": len(usable), "dev_lists": len(dev),
        "trained_at": time.strftime("%Y-%m-%d"), "train_seconds": round(time.time() - started),
    }
    if cfg.kind in APART_KINDS:
        info["head"] = head_of(model)
    if cfg.adapter:
        info["adapter"] = ADAPTER_FILE
    if cfg.kind == "query":
        info["vectors_model"] = embedder.name if embedder is not None else None
    export(model.state_dict(), cfg.layers, out_dir, tok, cfg.span, cfg.kind)
    from newsqa.reader.probe import probe_pairs, probe_pairs_with_vectors

    model.float()
    fp32 = _scorer(model, tok, cfg.kind, bf16=False)
    probes = (probe_pairs() if cfg.kind != "query"
              else probe_pairs_with_vectors(embedder.encode) if embedder is not None else None)
    if probes is not None:
        info["probe"] = [[float(x) for x in fp32(q, cands)] for q, cands in probes]
    (out_dir / "reader.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def export(
    state: dict[str, Any], layers: int, out_dir: Path, tok: PairTokenizer, span: bool = False,
    kind: str = "cross",
) -> None:
    """``reader.onnx``: the trained weights ``state`` as an ONNX graph with int8 weights (per
    channel). Traced with eager attention, which honours the mask for any batch shape."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / "reader.fp32.onnx"
    if kind in APART_KINDS:
        export_dual(state, layers, fp32, tok, late=kind == "late")
    else:
        _export_cross(state, layers, fp32, tok, span)
    quantize_dynamic(str(fp32), str(out_dir / "reader.onnx"), per_channel=True,
                     weight_type=QuantType.QInt8)
    fp32.unlink()


def _export_cross(
    state: dict[str, Any], layers: int, fp32: Path, tok: PairTokenizer, span: bool
) -> None:
    from newsqa.reader.base import export_onnx

    arrays = tok.encode("who won?", [
        Candidate("The team won the cup on Sunday."),
        Candidate("It was a long night.", "Cup final", "The final went to penalties.")])
    export_onnx(_Model(layers, "eager", span).net, state, arrays, fp32, "logits")
