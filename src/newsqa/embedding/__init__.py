"""Embedding: the model behind every vector newsqa computes, used by ingest (chunks and their
sentences), queries (the question), composition and the claim check.

``base`` (the :class:`~newsqa.embedding.base.Embedder` contract and the word-piece machinery),
``cpu`` (native bf16), ``torch_model`` and ``onnx`` (the backends), ``fake`` (the model-free
``HashEmbedder``), ``cache`` (recent vectors, query side) and ``factory`` (which vectors each
backend computes, each embedder loaded once per process). This package imports nothing else of
newsqa: which embedders run for an index is chosen in :mod:`newsqa.assemble`."""
