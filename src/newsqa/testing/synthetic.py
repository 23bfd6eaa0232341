"""Made-up articles, deterministic and distinct, written as JSON lines for an ingest."""

from __future__ import annotations

import json
import random
from pathlib import Path

_VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze")
          for b in ("ban", "cor", "dil", "fen", "gor", "hul", "jas", "kin", "lom", "mar",
                    "nor", "pol", "ris", "sun", "tav", "vel", "wex", "yor", "zan", "bex")]


def synthetic_articles(n: int, start: int = 0, words: int = 320, seed: int = 0) -> list[dict]:
    """``n`` distinct made-up articles (JSON records) of a few chunks each, numbered from
    ``start``; the same arguments give the same articles."""
    out = []
    for i in range(start, start + n):
        rng = random.Random(seed * 1_000_003 + i)
        sentences = []
        for _ in range(words // 16):
            sentences.append(" ".join(rng.choice(_VOCAB) for _ in range(15)).capitalize() + ".")
        out.append({
            "url": f"https://drill{seed}.example.com/{i}",
            "title": f"Drill story {i}",
            "text": f"Drill story number {i}. " + " ".join(sentences),
            "source": f"outlet{i % 5}.example.com",
            "published_at": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
        })
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records one JSON object a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
