"""The MiniLM the reader starts from: the shipped embedder's transformer cut to its first
``layers`` layers, its embedding tables frozen. Training only; imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def minilm(layers: int, attention: str = "sdpa") -> Any:
    """The shipped MiniLM's first ``layers`` layers as a torch ``BertModel`` (no pooler)."""
    from transformers import BertModel

    from newsqa.embedding.base import default_model_path

    bert = BertModel.from_pretrained(
        default_model_path(), add_pooling_layer=False, attn_implementation=attention)
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers
    # The embedding tables stay as MiniLM learnt them: 12 M of its 17 M weights (at 3 layers),
    # most of an optimizer step's cost, and words the few training questions never show keep
    # their meaning.
    for param in bert.embeddings.parameters():
        param.requires_grad = False
    return bert


def export_onnx(net: Any, state: dict[str, Any], arrays: tuple[Any, Any, Any], fp32: Path,
                output: str) -> None:
    """``net`` with the weights ``state`` traced on the word-piece ``arrays`` (ids, mask, token
    types) into an fp32 ONNX graph at ``fp32`` whose one output is named ``output``; batch and
    length stay free."""
    import torch

    net.load_state_dict(state)
    net.eval()
    axes = {0: "batch", 1: "pieces"}
    with torch.no_grad():
        torch.onnx.export(
            net, tuple(torch.from_numpy(a) for a in arrays), str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=[output], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          output: {0: "batch"}},
        )
