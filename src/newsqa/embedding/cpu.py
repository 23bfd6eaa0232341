"""What the CPU computes natively: bf16 (AVX512-BF16 or AMX) decides what ``auto`` precision
means."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger("newsqa.embed")

#: Values of ``NEWSQA_EMBEDDING__PRECISION``: ``auto`` is bf16 where the CPU has native bf16,
#: else fp32.
PRECISIONS = ("auto", "fp32", "bf16")


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively: AVX512-BF16 or AMX-BF16.

    Read from ``/proc/cpuinfo`` (Linux), else from torch's own CPU checks.
    """
    flags = _cpu_flags()
    if flags:
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    import torch

    cpu: Any = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_precision(requested: str) -> str:
    """``fp32`` or ``bf16`` for a ``NEWSQA_EMBEDDING__PRECISION`` value (``auto`` asks the CPU).

    bf16 and fp32 vectors of one model are interchangeable: over 2,000 chunks of real news their
    cosine was at least 0.9999 (``bench/ingest.py --agreement``), so an index built in one
    precision is queried in the other without loss. An explicit ``bf16`` on a CPU without native
    support still works, only slowly (torch emulates it), and is logged.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"embedding precision must be one of {', '.join(PRECISIONS)}")
    if requested == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if requested == "bf16" and not cpu_has_native_bf16():
        log.warning("bf16 embedding requested on a CPU without AVX512-BF16/AMX: it will be slow")
    return requested
