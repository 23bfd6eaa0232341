"""Questions: ``/api/ask`` (a cited answer), ``/api/ask/stream`` (the same as Server-Sent Events)
and ``/api/search`` (ranked passages, no answer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import StreamingResponse

from newsqa.api import schemas as s
from newsqa.api.dependencies import READS, Service, check_question
from newsqa.api.middleware import request_id
from newsqa.api.sse import SSE_DOC, SSE_HEADERS, event_stream
from newsqa.records import AnswerRequest
from newsqa.service import NewsQA

router = APIRouter()
ERRORS = s.ERRORS
ASK_EXAMPLES = {
    "seed": {"summary": "A question the bundled corpus answers",
             "value": {"question": s.SEED_QUESTION}},
    "filtered": {"summary": "With filters",
                 "value": {"question": "Who won the 2022 FIFA World Cup?", "k": 5,
                           "since": "2022-11-01", "until": "2022-12-31"}},
    "follow-up": {"summary": "A follow-up carrying the conversation",
                  "value": {"question": "What does the US say about it?",
                            "history": [{"role": "user", "content": s.SEED_QUESTION},
                                        {"role": "assistant", "content": "… [1]"}]}},
}
AskBody = Annotated[s.AskRequest, Body(openapi_examples=ASK_EXAMPLES)]


def _request(body: s.AskRequest, svc: NewsQA) -> AnswerRequest:
    """The service's request for ``body``, its question checked."""
    return AnswerRequest(
        check_question(svc, body.question), body.k, body.filters(),
        [t.model_dump() for t in body.history], body.view, body.mode,
    )


@router.post("/api/ask", response_model=s.Answer, tags=["Questions"], dependencies=READS,
             summary="Answer a question with cited sources", responses=ERRORS)
def ask(body: AskBody, svc: Service) -> dict[str, Any]:
    """Answer from the archive: sentences with `[n]` markers and the citations they point to,
    or an abstention (`abstained: true`) with the closest passages."""
    return svc.answer(_request(body, svc)).to_dict()


@router.post("/api/ask/stream", tags=["Questions"], dependencies=READS,
             response_class=StreamingResponse, summary="Answer as Server-Sent Events",
             responses={**ERRORS, **SSE_DOC})
def ask_stream(body: AskBody, svc: Service, request: Request) -> StreamingResponse:
    """Same as `/api/ask`, streamed: a `sources` event (the passages), `delta` events (one per
    answer segment: `text` rendered, `segment` as data) and a final `done` event with the full
    answer JSON; `error` (`detail`, `status`) if it fails midway.

    With `mode: "generate"` the language model's text arrives as `token` events while it is
    written; each finished sentence then gets a `claim` event (`status`: kept, flagged,
    dropped or abstain, with the `reason`), and a kept or flagged one its `delta`. A `note`
    event means the generated answer is withdrawn and the extractive answer's deltas follow."""
    events = svc.answer_events(_request(body, svc))
    return StreamingResponse(
        event_stream((e.wire() for e in events), request_id(request)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post("/api/search", response_model=s.SearchResponse, tags=["Questions"], dependencies=READS,
             summary="Search passages", responses=ERRORS)
def search(body: s.SearchRequest, svc: Service) -> dict[str, Any]:
    """Ranked passages (hybrid lexical + vector retrieval with a recency prior), no answer."""
    q = body.query.strip()
    if not q:
        raise HTTPException(422, "query must not be empty")
    return {"passages": [p.to_dict() for p in svc.search(q, body.k, body.filters())]}
