"""The transformers a reader can start from, cut to their first ``layers`` layers with their
embedding tables frozen: ``minilm``, the shipped embedder's MiniLM (what the shipped reader is),
and ``mpnet``, all-mpnet-base-v2 assembled from its part packages (:mod:`newsqa.training.mpnet`;
12 layers, hidden 768). Training only; imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The bases a reader can train from (``--base`` of ``newsqa train-reader``).
BASES = ("minilm", "mpnet")


def minilm(layers: int, attention: str = "sdpa") -> Any:
    """The shipped MiniLM's first ``layers`` layers as a torch ``BertModel`` (no pooler)."""
    from transformers import BertModel

    from newsqa.embedding.base import default_model_path

    bert = BertModel.from_pretrained(
        default_model_path(), add_pooling_layer=False, attn_implementation=attention)
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers
    return _frozen_tables(bert)


def _frozen_tables(model: Any) -> Any:
    """``model`` with its embedding tables frozen."""
    # The embedding tables stay as the base learnt them: 12 M of MiniLM's 17 M weights (at 3
    # layers), 23 M of MPNet's 110 M, most of an optimizer step's cost, and words the few
    # training questions never show keep their meaning.
    for param in model.embeddings.parameters():
        param.requires_grad = False
    return model


def mpnet(layers: int = 12, attention: str = "eager") -> Any:
    """all-mpnet-base-v2's first ``layers`` layers as a torch ``MPNetModel`` (no pooler), its
    files verified before loading (:func:`newsqa.training.mpnet.load_mpnet`)."""
    from newsqa.training.mpnet import load_mpnet

    model = load_mpnet(attention="eager")  # MPNet has no other attention in transformers
    model.encoder.layer = model.encoder.layer[:layers]
    model.config.num_hidden_layers = layers
    return _frozen_tables(model)


def base_model(base: str, layers: int, attention: str = "sdpa") -> Any:
    """The transformer of ``base`` (one of :data:`BASES`) cut to ``layers`` layers."""
    if base == "minilm":
        return minilm(layers, attention)
    if base == "mpnet":
        return mpnet(layers)
    raise ValueError(f"unknown reader base {base!r} (one of {', '.join(BASES)})")


def base_tokenizer(base: str) -> Path:
    """The ``tokenizer.json`` of ``base``'s word pieces."""
    if base == "mpnet":
        from newsqa.training.mpnet import tokenizer_path as mpnet_tokenizer

        return mpnet_tokenizer()
    from newsqa.reader.runtime import tokenizer_path

    return tokenizer_path()


def base_description(base: str, layers: int) -> str:
    """What ``reader.json`` records as the reader's base model."""
    if base == "mpnet":
        from newsqa.training.mpnet import LICENCE, REVISION

        return (f"sentence-transformers/all-mpnet-base-v2 ({LICENCE}, revision {REVISION[:12]}), "
                f"first {layers} layers")
    return f"sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), first {layers} layers"


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
