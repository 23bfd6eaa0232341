"""The dual reader (``TrainConfig.kind = "dual"``): the question and each candidate embedded
apart by MiniLM, mean-pooled and normalised exactly as the shipped sentence embedder does, and
a candidate's logit ``weight × cosine + bias``. The ``query`` reader trains the question's side
alone and reads each candidate as the sentence vector the index stored for it at ingest
(:mod:`newsqa.index.sentvec`, the shipped embedder's), so serving runs no model on candidates.
The ``late`` reader keeps every word piece's vector instead of their mean: a candidate's logit
is ``weight × maxsim + bias``, maxsim the mean over the question's word pieces of each one's
best cosine with a piece of the candidate (late interaction), so "which country" can meet the
country a sentence names, which a mean of the sentence's pieces blurs.

It starts where the embedder already is (MiniLM learnt question-to-answer matching from a
billion pairs), so a few thousand lists only adjust it; a cross-encoder starts from a head on
``[CLS]`` that nothing trained. Training imports torch; serving runs the exported graph
(:class:`newsqa.reader.runtime.Reader`), which maps word pieces to embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.reader.inputs import Candidate, PairTokenizer

#: The reader's architectures (``TrainConfig.kind``): question and candidate read together
#: (a head on ``[CLS]``), embedded apart (this module), or only the question embedded by the
#: reader and compared with the sentence vectors the index stored at ingest (``query``: the
#: candidates' side stays the shipped embedder's, so reading costs one question's embedding),
#: or embedded apart piece by piece (``late``).
KINDS = ("cross", "dual", "query", "late")
#: The kinds that embed the question apart and score candidates by a head on a similarity.
APART_KINDS = ("dual", "query", "late")
#: A cosine below every real one: what a candidate's padding scores in a maxsim.
_PAD_SIM = -2.0

#: The head's start: cosines of about 0.5 score 0, and the softmax over a list is sharp enough
#: for the listwise loss to move the encoder from the first step.
START_WEIGHT, START_BIAS = 20.0, -10.0


#: A query reader's learnt map of the candidate vectors, saved beside its graph (float32,
#: the torch ``Linear`` weight: a vector ``v`` becomes ``v + weight @ v``, normalised).
ADAPTER_FILE = "reader.adapter.npy"


def adapt(vectors: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """``vectors`` (rows) through the adapter ``weight`` (None: unchanged), unit length."""
    if weight is None:
        return vectors
    out = vectors + vectors @ weight.T
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0).astype(np.float32)


def cosine_logits(emb_q: np.ndarray, emb_c: np.ndarray, weight: float, bias: float) -> np.ndarray:
    """``weight × cosine + bias`` of each candidate embedding with the question's (both
    normalised), float32."""
    return (weight * (emb_c @ emb_q.reshape(-1)) + bias).astype(np.float32)


def question_mask(mask: np.ndarray) -> np.ndarray:
    """The word pieces of each question a maxsim averages over: ``mask`` without ``[CLS]`` and
    the closing ``[SEP]`` (kept where nothing else is left)."""
    out = mask.copy()
    lengths = mask.sum(axis=1)
    for row, n in enumerate(lengths):
        if n > 2:
            out[row, 0] = 0
            out[row, int(n) - 1] = 0
    return out


def late_logits(q_states: np.ndarray, q_mask: np.ndarray, c_states: np.ndarray,
                c_mask: np.ndarray, weight: float, bias: float) -> np.ndarray:
    """``weight × maxsim + bias`` of each candidate (rows of ``c_states``, pieces masked by
    ``c_mask``) with the one question (``q_states`` of shape (1, pieces, dim), its pieces
    chosen by ``q_mask``, see :func:`question_mask`), float32."""
    sim = np.einsum("qd,npd->nqp", q_states[0], c_states)
    sim = np.where(c_mask[:, None, :] > 0, sim, _PAD_SIM).max(axis=2)
    qm = q_mask[0].astype(np.float32)
    return (weight * (sim @ qm) / max(float(qm.sum()), 1.0) + bias).astype(np.float32)


def dual_net(layers: int, attention: str = "sdpa", adapter: bool = False,
             late: bool = False) -> Any:
    """The torch dual encoder: MiniLM's first ``layers`` layers (embedding tables frozen, as the
    cross-encoder's are) and a one-weight head on the cosine; with ``adapter``, a linear map
    (starting at zero) added to each candidate vector before the cosine, which a ``query``
    reader learns in place of the candidate side it does not train. With ``late`` it returns
    every word piece's normalised vector (padding zero) and its head scores their maxsim."""
    import torch

    from newsqa.reader.base import minilm

    bert = minilm(layers, attention)

    class DualEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.head = torch.nn.Linear(1, 1)
            with torch.no_grad():
                self.head.weight.fill_(START_WEIGHT)
                self.head.bias.fill_(START_BIAS)
            dim = bert.config.hidden_size
            self.adapter = torch.nn.Linear(dim, dim, bias=False) if adapter else None
            if self.adapter is not None:
                torch.nn.init.zeros_(self.adapter.weight)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(states.dtype)
            if late:
                return torch.nn.functional.normalize(states.float(), dim=-1) * m.float()
            pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled.float(), dim=-1)

        def logits(self, emb_q: Any, emb_c: Any, owner: Any, masks: Any = None) -> Any:
            """The logit of each candidate embedding with its own question's (``owner``: the
            row of ``emb_q`` each candidate belongs to); a late reader's ``masks`` are the
            question's pieces (:func:`question_mask`) and the candidates'."""
            if late:
                q_mask, c_mask = masks
                sim = torch.einsum("nqd,npd->nqp", emb_q[owner], emb_c)
                best = sim.masked_fill(c_mask[:, None, :] == 0, _PAD_SIM).amax(-1)
                qm = q_mask[owner].to(best.dtype)
                score = (best * qm).sum(-1) / qm.sum(-1).clamp(min=1.0)
                return self.head(score.unsqueeze(-1)).squeeze(-1)
            if self.adapter is not None:
                emb_c = torch.nn.functional.normalize(emb_c + self.adapter(emb_c), dim=-1)
            cos = (emb_c * emb_q[owner]).sum(-1, keepdim=True)
            return self.head(cos).squeeze(-1)

    return DualEncoder()


def group_logits(net: Any, tok: PairTokenizer, groups: Sequence[tuple[str, Sequence[Candidate]]],
                 stored: bool = False) -> Any:
    """The torch logits of every (question, candidates) group, concatenated in order; with
    ``stored`` (a ``query`` reader) the candidates are their stored vectors, not embedded."""
    import torch

    q_ids, q_mask, q_types = tok.encode_texts([q for q, _ in groups])
    cands = [c for _, cs in groups for c in cs]
    owner = torch.tensor([g for g, (_, cs) in enumerate(groups) for _ in cs], dtype=torch.long)
    emb_q = net(torch.from_numpy(q_ids), torch.from_numpy(q_mask), torch.from_numpy(q_types))
    if stored:
        return net.logits(emb_q, torch.from_numpy(stored_matrix(cands)), owner)
    c_ids, c_mask, c_types = tok.encode_candidates(cands)
    emb_c = net(torch.from_numpy(c_ids), torch.from_numpy(c_mask), torch.from_numpy(c_types))
    masks = (torch.from_numpy(question_mask(q_mask)), torch.from_numpy(c_mask))
    return net.logits(emb_q, emb_c, owner, masks)


def stored_matrix(cands: Sequence[Candidate]) -> np.ndarray:
    """The stored vectors of ``cands`` as one float32 matrix; a ValueError names the first
    candidate without one (a ``query`` reader has nothing else to read)."""
    for i, c in enumerate(cands):
        if c.vector is None:
            raise ValueError(
                f"candidate {i} ({c.sentence[:40]!r}) has no sentence vector: a query reader "
                "compares the question with the vectors the index stored for its sentences")
    return np.stack([np.asarray(c.vector, dtype=np.float32) for c in cands])


def head_of(net: Any) -> dict[str, float]:
    """The head's weight and bias, which ``reader.json`` records for serving."""
    return {"weight": float(net.head.weight.detach().reshape(-1)[0]),
            "bias": float(net.head.bias.detach().reshape(-1)[0])}


def export_dual(state: dict[str, Any], layers: int, fp32: Path, tok: PairTokenizer,
                late: bool = False) -> None:
    """The encoder of ``state`` as an fp32 ONNX graph: word pieces to normalised embeddings
    (``late``: to each piece's normalised vector, output ``pieces``); an adapter's weight, if
    ``state`` has one, saved beside it (:data:`ADAPTER_FILE`)."""
    from newsqa.reader.base import export_onnx

    arrays = tok.encode_texts(["who won?", "The team won the cup on Sunday night."])
    encoder = {k: v for k, v in state.items() if not k.startswith("adapter.")}
    export_onnx(dual_net(layers, "eager", late=late), encoder, arrays, fp32,
                "pieces" if late else "embedding", per_piece=late)
    if "adapter.weight" in state:
        np.save(fp32.parent / ADAPTER_FILE, state["adapter.weight"].float().cpu().numpy())
