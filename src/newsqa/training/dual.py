"""The dual reader's torch network: the question and each candidate embedded apart by MiniLM,
mean-pooled and normalised exactly as the shipped sentence embedder does, and a candidate's logit
``weight × cosine + bias`` (the head serving runs in numpy, :mod:`newsqa.reader.dual`).

It starts where the embedder already is (MiniLM learnt question-to-answer matching from a
billion pairs), so a few thousand lists only adjust it. Training imports torch; serving runs the
exported graph (:class:`newsqa.reader.runtime.Reader`), which maps word pieces to embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from newsqa.reader.inputs import Candidate, PairTokenizer

#: The head's start: cosines of about 0.5 score 0, and the softmax over a list is sharp enough
#: for the listwise loss to move the encoder from the first step.
START_WEIGHT, START_BIAS = 20.0, -10.0


def dual_net(layers: int, attention: str = "sdpa", base: str = "minilm") -> Any:
    """The torch dual encoder: the first ``layers`` layers of ``base`` (MiniLM, or MPNet:
    :func:`newsqa.training.base.base_model`; embedding tables frozen) and a one-weight head on
    the cosine."""
    import torch

    from newsqa.training.base import base_model

    bert = base_model(base, layers, attention)
    # MPNet has no token types: its forward is given ids and mask only.
    types = base == "minilm"

    class DualEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.head = torch.nn.Linear(1, 1)
            with torch.no_grad():
                self.head.weight.fill_(START_WEIGHT)
                self.head.bias.fill_(START_BIAS)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            extra = {"token_type_ids": token_type_ids} if types else {}
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               **extra).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled.float(), dim=-1)

        def logits(self, emb_q: Any, emb_c: Any, owner: Any) -> Any:
            """The logit of each candidate embedding with its own question's (``owner``: the
            row of ``emb_q`` each candidate belongs to)."""
            cos = (emb_c * emb_q[owner]).sum(-1, keepdim=True)
            return self.head(cos).squeeze(-1)

    return DualEncoder()


def group_logits(
    net: Any, tok: PairTokenizer, groups: Sequence[tuple[str, Sequence[Candidate]]]
) -> Any:
    """The torch logits of every (question, candidates) group, concatenated in order."""
    import torch

    q_ids, q_mask, q_types = tok.encode_texts([q for q, _ in groups])
    cands = [c for _, cs in groups for c in cs]
    owner = torch.tensor([g for g, (_, cs) in enumerate(groups) for _ in cs], dtype=torch.long)
    emb_q = net(torch.from_numpy(q_ids), torch.from_numpy(q_mask), torch.from_numpy(q_types))
    c_ids, c_mask, c_types = tok.encode_candidates(cands)
    emb_c = net(torch.from_numpy(c_ids), torch.from_numpy(c_mask), torch.from_numpy(c_types))
    return net.logits(emb_q, emb_c, owner)


def head_of(net: Any) -> dict[str, float]:
    """The head's weight and bias, which ``reader.json`` records for serving."""
    return {"weight": float(net.head.weight.detach().reshape(-1)[0]),
            "bias": float(net.head.bias.detach().reshape(-1)[0])}


def export_dual(state: dict[str, Any], layers: int, fp32: Path, tok: PairTokenizer) -> None:
    """The encoder of ``state`` as an fp32 ONNX graph: word pieces to normalised embeddings."""
    from newsqa.training.base import export_onnx

    arrays = tok.encode_texts(["who won?", "The team won the cup on Sunday night."])
    export_onnx(dual_net(layers, "eager"), state, arrays, fp32, "embedding")
