"""Benchmarks on the RealTime QA 2023 archive, run from the checkout's root as modules:
``.venv/bin/python -m bench.<name> [--help]``. Each prints what it measures; the figures and the
commands that made them are recorded in ``docs/benchmarks.md``.

Quality: ``retrieval_slice`` (January–March slice), ``quality`` (the full archive, both halves),
``retrieval_ceiling`` (gold ages, candidate recall by depth), ``answers`` (answer composition on
cached retrieval), ``sentence_ceiling`` (which sentence holds the answer), ``claims`` (the claim
check's threshold), ``reader_curve`` (the reader by depth, abstention curves).
Speed and scale: ``ingest`` (chunks/s against plain sentence-transformers; its LlamaIndex peer
is ``llamaindex_ingest``), ``latency`` (``/api/ask`` and ``/api/search`` over HTTP), ``growth``
(ingest rate, latency and memory as the archive grows), ``serving_backend`` (the query embedder:
torch against ONNX), ``ray_embed`` (Ray workers against in process), ``faults`` (kill and
concurrency drills of the one-writer index). ``slice`` holds their shared helpers; what they
share with the tests is in :mod:`newsqa.testing`.
"""
