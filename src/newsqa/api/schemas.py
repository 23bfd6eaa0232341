"""Request and response models of the HTTP API (they also document ``/docs``)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from newsqa import records
from newsqa.api.derive import response_model
from newsqa.records import Article, Filters, LoadProblem, Mode, View

SEED_QUESTION = (
    "What does the Korean government fear about Japan's right of collective self-defense?"
)


def _iso_date(value: str) -> str:
    """A calendar date written exactly as ``YYYY-MM-DD``."""
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None


IsoDate = Annotated[
    str,
    AfterValidator(_iso_date),
    Field(json_schema_extra={"format": "date", "examples": ["2023-01-05"]}),
]
Outlet = Annotated[str, Field(min_length=1, max_length=200)]
#: A text that is not blank, as the OpenAPI page says it: a character Python's ``str.strip()``
#: (what the API checks) keeps, in the page's (ECMAScript) regex dialect, whose ``\s`` lacks
#: U+001C–U+001F and U+0085 and has U+FEFF.
NOT_BLANK = r"[^\s\x1c-\x1f\x85]|\ufeff"
MODE_DOC = (
    "extractive: sentences quoted from the articles; generate: written by the configured "
    "language model (NEWSQA_GENERATOR__URL), every sentence checked against the passage it "
    "cites (422 when no model is configured)"
)


class _Strict(BaseModel):
    """A request model: no field it does not declare, and no value of another JSON type (``"5"``
    or ``true`` is not the integer 5), so the schema on the page is the whole rule."""

    model_config = ConfigDict(extra="forbid", strict=True)


#: The rule a JSON schema cannot state (it compares no two fields), said where it applies.
DATE_ORDER = "since must not be after until: such a request is refused with 422"


class FilterFields(_Strict):
    """Restrictions shared by ask and search; dates are ``YYYY-MM-DD``, and ``since`` not after
    ``until`` (422 otherwise)."""

    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve (1-50, default 8)")
    since: IsoDate | None = Field(
        None, description=f"Only articles published on or after this day ({DATE_ORDER})"
    )
    until: IsoDate | None = Field(
        None, description=f"Only articles published on or before this day ({DATE_ORDER})"
    )
    sources: list[Outlet] | None = Field(
        None, min_length=1, max_length=50, description="Only these outlets (domains, e.g. cnn.com)"
    )
    as_of: IsoDate | None = Field(
        None, description="Answer as of this day: later articles are ignored (default: today)"
    )

    @field_validator("k", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        """To JSON Schema 5.0 is the integer 5; "5" and true are no integers (refused)."""
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @model_validator(mode="after")
    def _range(self) -> FilterFields:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        return self

    def filters(self) -> Filters:
        """The service's filter record."""
        return Filters(since=self.since, until=self.until, sources=self.sources, as_of=self.as_of)


class Turn(_Strict):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(FilterFields):
    """A question, with optional filters and the conversation so far (for follow-ups)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": SEED_QUESTION},
                {"question": "Who won the 2022 FIFA World Cup?", "k": 5, "since": "2022-11-01"},
                {
                    "question": "And what does the US say about it?",
                    "history": [
                        {"role": "user", "content": SEED_QUESTION},
                        {"role": "assistant", "content": "… the right of collective … [1]"},
                    ],
                },
            ]
        },
    )

    question: str = Field(
        min_length=1, json_schema_extra={"pattern": NOT_BLANK},
        description="The question: not blank, at most max_question_chars",
    )
    view: View = Field(
        "answer",
        description="answer: a few cited sentences; timeline: evidence by publication date; "
        "outlets: evidence per outlet",
    )
    history: list[Turn] = Field(
        default_factory=list, max_length=50, description="Earlier turns, oldest first"
    )
    mode: Mode = Field("extractive", description=MODE_DOC)


class SearchRequest(FilterFields):
    """A search query with optional filters."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "collective self-defense Japan", "k": 5},
                {"query": "interest rates", "since": "2023-01-01",
                 "sources": ["money.example.com"]},
            ]
        },
    )

    query: str = Field(
        min_length=1, json_schema_extra={"pattern": NOT_BLANK}, description="Free-text query"
    )


ANSWER_EXAMPLES: list[dict[str, Any]] = [
    {
        "question": SEED_QUESTION,
        "answer": "Under the circumstances, the South Korean government is trying to "
        "alleviate the concerns of the general public by saying that the right of "
        "collective self-defense does not cover the Korean peninsula, … [1]",
        "segments": [{
            "text": "Under the circumstances, the South Korean government is trying "
            "to alleviate the concerns of the general public by saying that the "
            "right of collective self-defense does not cover the Korean peninsula, …",
            "citations": [1], "lead": "", "span": None,
            "quotes": ["Under the circumstances, the South Korean government …"],
        }],
        "abstained": False,
        "view": "answer",
        "evidence": 0.8262,
        "citations": [
            {
                "n": 1, "article_id": "5b8e5935440b59b8", "chunk_id": 2,
                "url": "https://example.org/korea",
                "title": "Korea-US Alliance vs. Japan-US Alliance",
                "source": "example.org", "published_at": "2013-11-30",
                "quote": "Under the circumstances, the South Korean government …",
                "passage": "In international politics, … Under the circumstances, …",
            }
        ],
        "passages": [],
        "filters": {"since": None, "until": None, "sources": None,
                    "as_of": "2024-05-01"},
        "timings_ms": {"embed": 6.9, "retrieve": 7.8, "compose": 111.2,
                       "total": 125.9},
    }
]

SEGMENT_DOC = (
    'One statement of the answer: text shown as text (a "[12]" in it is article text, never a\n'
    "citation), the citation numbers it rests on, a view's label to show before it, optionally\n"
    "the [start, end) character range of ``text`` that answers the question, and the verbatim\n"
    "words of each cited passage that support it."
)

# The answer's records, derived from the domain's (:mod:`newsqa.api.derive`); mypy sees the
# records themselves, which is what a route returns (in their JSON form).
if TYPE_CHECKING:
    PassageOut = records.Passage
    CitationOut = records.Citation
    Segment = records.Segment
    FiltersOut = records.Filters
    ClaimsOut = records.ClaimStats
    Answer = records.Answer
else:
    PassageOut = response_model(
        records.Passage, "PassageOut", doc="A retrieved chunk with its article's metadata.",
        all_required=True,
    )
    CitationOut = response_model(records.Citation, "CitationOut", all_required=True)
    Segment = response_model(records.Segment, doc=SEGMENT_DOC)
    FiltersOut = response_model(records.Filters, "FiltersOut", doc=(
        "The filters the answer was computed under (``as_of`` defaults to today)."
    ))
    ClaimsOut = response_model(records.ClaimStats, "ClaimsOut", all_required=True)
    Answer = response_model(records.Answer, examples=ANSWER_EXAMPLES)


class SearchResponse(BaseModel):
    """Ranked passages."""

    passages: list[PassageOut]


class ArticleSummary(BaseModel):
    """Article metadata as listed."""

    id: str
    url: str | None
    title: str
    source: str | None
    published_at: str | None
    authors: list[str]
    cluster_id: str | None


class ArticleDetail(ArticleSummary):
    """Article metadata with its full text."""

    text: str
    origin: str | None
    ingested_at: str | None


class ArticlePage(BaseModel):
    """One page of articles, newest first."""

    total: int
    offset: int
    limit: int
    items: list[ArticleSummary]


class ArticleIn(_Strict):
    """An article to add; ``published_at`` is any full date (ISO preferred)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Volcano erupts on remote island, forcing evacuations",
                    "text": "A volcano on the remote island of Tolva erupted on Friday …",
                    "url": "https://world.example.com/2023/03/10/volcano",
                    "source": "world.example.com",
                    "published_at": "2023-03-10",
                    "authors": ["A. Reporter"],
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1)
    url: str | None = Field(None, pattern=r"^https?://\S+$", max_length=2000)
    source: str | None = Field(None, max_length=200, description="Outlet (default: URL's domain)")
    published_at: str | None = Field(None, max_length=100)
    authors: list[str] = Field(default_factory=list, max_length=100)
    id: str | None = Field(None, min_length=1, max_length=200)

    def to_article(self, origin: str, max_bytes: int) -> list[Article | LoadProblem]:
        """The Article, built by the loaders' own builder (same cleaning, same rules: an
        unreadable date keeps the article undated with a warning), preceded by its warnings; or
        a single LoadProblem. ``origin`` (``item[i]``) names it in reports."""
        from newsqa.ingest.load import build_article  # the loaders' imports are heavy

        fields = {
            "title": self.title, "text": self.text, "url": self.url, "source": self.source,
            "date": self.published_at, "authors": self.authors, "id": self.id,
        }
        return build_article(fields, path=origin, origin=origin, max_bytes=max_bytes)


class Problem(BaseModel):
    """An input that was reported and skipped."""

    path: str = Field(description='File name, or "item[i]" for the i-th JSON item')
    line: int | None
    reason: str
    kind: Literal["skipped", "warning"] = Field(
        "skipped", description="skipped: the input was not ingested; warning: it was, despite this"
    )


class Omitted(BaseModel):
    """Problems of one file beyond those listed (at most 20 per file are listed)."""

    path: str | None = Field(description="The file; null for files past the first 1,000")
    count: int


class ItemResult(BaseModel):
    """What happened to one input article."""

    id: str
    status: Literal["added", "updated", "unchanged"]
    origin: str


class IngestResult(BaseModel):
    """The ingest report: counts, the rejected inputs with reasons, one row per article."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "added": 1, "updated": 0, "unchanged": 0, "skipped": 1, "warnings": 1,
                    "chunks": 3, "wire_copies": 0, "seconds": 0.41,
                    "problems": [
                        {"path": "news.jsonl", "line": 2, "kind": "skipped",
                         "reason": "invalid JSON: Expecting value (column 1)"},
                        {"path": "news.jsonl", "line": 1, "kind": "warning",
                         "reason": "unreadable date 'not a date': the article is kept without "
                                   "a date"},
                    ],
                    "omitted": [],
                    "items": [{"id": "5b8e5935440b59b8", "status": "added",
                               "origin": "news.jsonl:1"}],
                    "items_omitted": 0,
                }
            ]
        }
    )

    added: int
    updated: int
    unchanged: int
    skipped: int
    chunks: int
    wire_copies: int = Field(0, description="Articles recognised as copies of an indexed story")
    warnings: int = Field(0, description="Inputs ingested despite a problem listed as a warning")
    seconds: float
    problems: list[Problem] = Field(
        description="Skipped inputs and warnings, at most 20 per file and 500 in all"
    )
    omitted: list[Omitted] = Field(
        default_factory=list, description="Per file, the problems counted but not listed"
    )
    items: list[ItemResult] = Field(description="One row per article, at most 10,000")
    items_omitted: int = Field(0, description="Articles beyond the rows listed in items")


class Health(BaseModel):
    """Liveness, index size, model and version."""

    status: str
    version: str
    model: str
    index: str | None = Field(
        None, description="The index directory: shown only to a caller with the key, or on a "
        "loopback server whose reads are open"
    )
    articles: int
    chunks: int
    generator: str | None = Field(
        None, description="The language model behind mode=generate; null when it is off"
    )


class Deleted(BaseModel):
    """Result of a delete."""

    deleted: str


class ErrorBody(BaseModel):
    """Every error response: a readable ``detail`` message."""

    detail: str
    errors: list[dict[str, Any]] | None = Field(None, description="Validation errors, if any")
    request_id: str | None = Field(None, description="With a 500: the id the server log lists")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request body"},
    401: {"model": ErrorBody, "description": "Missing or wrong API key"},
    413: {"model": ErrorBody, "description": "Request body over max_body_bytes"},
    422: {"model": ErrorBody, "description": "Invalid input"},
    500: {"model": ErrorBody, "description": "Internal error: the detail names the request id"},
}
"""The error responses every API route documents."""
