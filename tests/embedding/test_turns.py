"""Queries and ingests sharing one embedder take turns batch by batch, queries first (issue 39,
finding 4): a query asked while an ingest is embedding is answered before the ingest ends.

The forward passes here are fakes that record who ran and hold the first ingest batch until the
query is waiting for the model, so the tests check the order of events, not speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from newsqa.embedding.base import TurnLock, WordPieceEmbedder, bulk_work, default_model_path
from newsqa.embedding.onnx import OnnxEmbedder

TOKENIZER = (Path(default_model_path()) / "tokenizer.json").read_text(encoding="utf-8")
INGEST = [f"ingest text number {i}" for i in range(12)]


def _until(check: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)


class Gate:
    """Records each forward pass; the first ingest pass waits until the gate opens."""

    def __init__(self, query_id: int) -> None:
        self.query_id = query_id
        self.events: list[str] = []
        self.started = threading.Event()
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def forward(self, input_ids: np.ndarray) -> np.ndarray:
        who = "query" if int(input_ids[0, 1]) == self.query_id else "ingest"
        with self._lock:
            self.events.append(who)
        if who == "ingest":
            self.started.set()
            assert self.gate.wait(10)
        return np.full((len(input_ids), 4), 0.5, np.float32)


class Gated(WordPieceEmbedder):
    """A word-piece embedder whose forward pass is :class:`Gate`'s."""

    def __init__(self) -> None:
        self.name, self.dim, self.backend, self.precision = "gated", 4, "fake", "fp32"
        self._init_tokens(TOKENIZER, 256, 1)
        self.probe = Gate(int(self._pieces.token_to_id("question") or 0))

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.probe.forward(input_ids)


class GatedOnnx(OnnxEmbedder):
    """:class:`OnnxEmbedder`'s int8 path (texts side by side on two threads) with no model."""

    def __init__(self) -> None:  # no graph, no session: only the threads and the turns
        self._parallel = ThreadPoolExecutor(2)
        self._workers = 2
        self.name, self.dim, self.backend, self.precision = "gated", 4, "onnx-int8", "int8"
        self._init_tokens(TOKENIZER, 256, 1)
        self.probe = Gate(int(self._pieces.token_to_id("question") or 0))

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.probe.forward(input_ids)


def _ingest_then_query(emb: Gated | GatedOnnx) -> list[str]:
    """An ingest starts embedding; a query asks meanwhile. Which finished first."""
    finished: list[str] = []

    def ingest() -> None:
        with bulk_work():
            emb.encode(INGEST)
        finished.append("ingest")

    def query() -> None:
        emb.encode(["question"])
        finished.append("query")

    writer = threading.Thread(target=ingest)
    writer.start()
    assert emb.probe.started.wait(10)
    asker = threading.Thread(target=query)
    asker.start()
    _until(lambda: emb._forward_lock._queries_waiting == 1)
    emb.probe.gate.set()
    writer.join(10)
    asker.join(10)
    return finished


def test_a_query_goes_before_the_next_ingest_batch() -> None:
    emb = Gated()
    assert _ingest_then_query(emb) == ["query", "ingest"]
    # one text per batch: the batch in progress, then the query, then the other eleven
    assert emb.probe.events == ["ingest", "query"] + ["ingest"] * 11


def test_int8_ingests_take_the_model_a_few_texts_at_a_time() -> None:
    emb = GatedOnnx()
    try:
        assert _ingest_then_query(emb) == ["query", "ingest"]
    finally:
        assert emb._parallel is not None
        emb._parallel.shutdown()
    events = emb.probe.events
    # the query waited for the first turn (two texts per thread), not for all twelve texts
    assert events.index("query") == 4 and events.count("ingest") == 12


def test_queries_without_pause_still_let_an_ingest_batch_through() -> None:
    lock = TurnLock(bulk_after=2)
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def first() -> None:
        with lock.turn(bulk=False):
            holding.set()
            assert release.wait(10)

    def take(who: str, bulk: bool) -> None:
        with lock.turn(bulk=bulk):
            order.append(who)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(10)
    threads.append(threading.Thread(target=take, args=("bulk", True)))
    threads[-1].start()
    _until(lambda: lock._bulk_waiting == 1)
    for n in range(4):
        threads.append(threading.Thread(target=take, args=(f"query {n}", False)))
        threads[-1].start()
    _until(lambda: lock._queries_waiting == 4)
    release.set()
    for t in threads:
        t.join(10)
    # two queries go first, then the waiting bulk batch, then the rest
    assert order[2] == "bulk" and sorted(order[:2] + order[3:]) == [f"query {n}" for n in range(4)]
