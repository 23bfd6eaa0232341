"""Benchmarks on the RealTime QA 2023 archive (run as scripts: ``python bench/<name>.py``)."""
