"""End to end against a real local model server: llama.cpp's OpenAI-compatible server
(``llama-cpp-python[server]``) running the extra's model, Qwen2.5 Coder 0.5B Instruct, joined
from its PyPI part packages and checked against the upstream hash, on 127.0.0.1.

The model is small and its answers are often flagged or fall back; that is fine: this proves the
protocol, token streaming, the claim check on real output and the fallback when the server goes
away.
Needs the ``llm`` extra (``make install-llm``); about a minute once installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.gguf import EXTRA_MODEL, MissingPartError, assemble
from newsqa.query.compose import check_citations
from newsqa.records import AnswerRequest
from newsqa.service import NewsQA
from tests.support import NEWS, REPO, free_port, open_service, stop

pytestmark = [pytest.mark.slow, pytest.mark.llm]
llama_cpp = pytest.importorskip(
    "llama_cpp", reason="the llm extra is not installed: make install-llm"
)
TOLVA = "How many residents were evacuated from Tolva?"


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's server with the extra's model (the GGUF make install-llm joined, its hash
    checked again; joined here if missing), on a free port, with the chat template its GGUF
    carries; stopped after the module."""
    try:
        model = assemble(EXTRA_MODEL)
    except MissingPartError as exc:
        pytest.skip(f"the llm extra's model is not installed (make install-llm): {exc}")
    port = free_port()
    log = (tmp_path_factory.mktemp("llm-log") / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "llama.cpp server exited; see its log"
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "llama.cpp server did not start in 120 s"
            time.sleep(0.5)
        yield url
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory, llm_url: str) -> Iterator[NewsQA]:
    service = open_service(
        tmp_path_factory.mktemp("llm") / "index", generator__url=llm_url,
        generator__timeout_s=120, generator__max_tokens=120,
    )
    service.ingest([REPO / "corpus"])
    service.ingest_records(list(NEWS))
    yield service
    service.close()


def _checked(done: dict[str, Any]) -> None:
    c = done["claims"]
    assert c["checked"] == c["kept"] + c["flagged"] + c["dropped"]
    assert check_citations_of(done) == []
    if done["abstained"]:  # the model may say the passages do not answer: no citations then
        return
    assert done["citations"] and all(
        seg["citations"] or seg["flag"] for seg in done["segments"]
    )
    if done["mode"] == "generate":
        assert c["kept"] >= 1 and done["note"] is None
    else:
        assert done["note"]


def check_citations_of(done: dict[str, Any]) -> list[str]:
    from newsqa.records import Citation, Segment

    segs = [Segment(**{**s, "span": tuple(s["span"]) if s["span"] else None})
            for s in done["segments"]]
    return check_citations(segs, [Citation(**c) for c in done["citations"]])


def test_real_model_streams_and_every_claim_is_checked(svc: NewsQA) -> None:
    events = [e.wire() for e in svc.answer_events(AnswerRequest(TOLVA, mode="generate"))]
    names = [e for e, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    tokens = [d["text"] for e, d in events if e == "token"]
    assert len(tokens) >= 5 and all(isinstance(t, str) for t in tokens)
    # the check ran while the model was still writing: a verdict arrived before the last token
    assert names.index("claim") < len(names) - 1 - names[::-1].index("token")
    done = events[-1][1]
    _checked(done)
    given = len(events[0][1]["passages"][: svc.settings.generation.passages])
    assert all(c["n"] <= given for c in done["citations"])
    print(json.dumps({k: done[k] for k in ("answer", "mode", "claims", "timings_ms")}, indent=1))


def test_openai_endpoint_streams_from_the_real_model(svc: NewsQA) -> None:
    with TestClient(create_app(svc)) as client:
        r = client.post("/v1/chat/completions", json={
            "model": "newsqa-generate", "stream": True,
            "messages": [{"role": "user", "content": TOLVA}],
        })
    lines = [x for x in r.text.splitlines() if x.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2][6:])
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["newsqa"]["claims"]["checked"] >= 0 and last["citations"]
    assert len(lines) > 6


def test_server_gone_gives_the_extractive_answer(svc: NewsQA, monkeypatch: Any) -> None:
    assert svc.chat is not None
    dead = type(svc.chat.cfg)(f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    monkeypatch.setattr(svc.chat, "cfg", dead)
    done = svc.answer(AnswerRequest(TOLVA, mode="generate")).to_dict()
    assert done["mode"] == "extractive" and "unreachable" in done["note"]
    assert done["citations"] and "3,000" in done["answer"]
