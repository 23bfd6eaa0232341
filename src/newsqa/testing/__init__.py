"""Helpers shared by the test suite (``tests/``) and the benchmarks (``bench/``).

Where a source checkout's files and the shared RealTime QA archive are (``paths``), ``newsqa
serve`` started on a free local port and waited for (``servers``), made-up articles written as
JSON lines (``synthetic``), and an index's counts and files read from outside (``indexes``).

Nothing in the product imports this package (``tests/test_bench_package.py`` checks it); it is
for a source checkout, where ``tests/`` and ``bench/`` sit next to ``src/``.
"""
