"""Schema fuzzing: schemathesis runs as ``schemathesis run --checks all`` does, every check and
all four phases (examples, coverage, fuzzing, stateful), on requests it makes from
``/openapi.json``, valid and invalid: no server error, every status code, content type, header and
body as documented, valid data accepted and invalid data refused, the key enforced where the page
says it is needed and nowhere else, ``Allow`` listing a resource's methods.

Bounded and deterministic: 25 examples per operation, a fixed seed, derandomized generation, no
example database, against an app on a hash-embedder service of its own (the fuzzer adds and
deletes articles), in-process (no socket). The one rule the page cannot state, that ``since`` is
not after ``until`` (a JSON schema compares no two fields), is the one failure let through, and
only where the request breaks it and the reply says so (``test_ask.py`` and ``test_articles.py``
hold the rule itself).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, StopReason, events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData

from newsqa.api.factory import create_app
from newsqa.service import NewsQA
from tests.api.conftest import KEY, _build
from tests.support import open_service

EXAMPLES = 25
PHASES = ["examples", "coverage", "fuzzing", "stateful"]
AUTH = {"Authorization": f"Bearer {KEY}"}
Found = dict[str, set[str]]


def _breaks_date_order(case: schemathesis.Case) -> bool:
    """Whether the request asks for articles from after ``until`` up to before ``since``."""
    fields: dict[str, Any] = {**(case.query or {})}
    if isinstance(case.body, dict):
        fields.update(case.body)
    since, until = fields.get("since"), fields.get("until")
    return isinstance(since, str) and isinstance(until, str) and since > until


def _rule_no_schema_states(context: Any, failure: Any, case: schemathesis.Case,
                           response: Any) -> bool:
    """Keep every failure but a 422 that names "since ... is after until" for a request whose
    dates are in that order, or one that refuses a feed or webhook URL on a private address or
    a host that is an address in another spelling (``127.1``, ``2130706433``: rules of the
    address, not of the string; ``tests/feeds/test_guard.py``) (schemathesis's
    ``filter_failure`` hook)."""
    refused = isinstance(failure, RejectedPositiveData) and response.status_code == 422
    return not (refused and (
        ("is after until" in response.text and _breaks_date_order(case))
        or (case.path in ("/api/feeds", "/api/watches")
            and ("_ALLOW_HOSTS" in response.text or "written in another form" in response.text))
    ))


def fuzz(app: FastAPI, *, examples: int = EXAMPLES, path: str | None = None) -> tuple[Found, set]:
    """Run schemathesis on ``app`` (only ``path``'s operations when given), sending the key;
    returns the failures (``operation check: title`` → messages) and the operations tested."""
    config = SchemathesisConfig.from_dict({
        "seed": 20, "headers": AUTH,
        "generation": {"max-examples": examples, "deterministic": True, "database": "none"},
    })
    project = config.projects.get_default()
    project.checks.update(included_check_names=["all"])
    project.phases.update(phases=PHASES)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    if path is not None:
        schema = schema.include(path=path)
    schema.hook("filter_failure")(_rule_no_schema_states)
    found: Found = defaultdict(set)
    tested: set[tuple[str, str | None]] = set()
    finished = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.status is not Status.SKIP:
                tested.add((str(event.phase), event.label))
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.status is Status.FAILURE and node.failure_info is not None:
                        failure = node.failure_info.failure
                        key = f"{event.label or 'stateful'} {node.name}: {failure.title}"
                        found[key].add(f"{failure.message}\n{node.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found["engine error"].add(repr(getattr(event, "value", None) or event.exception))
        elif isinstance(event, events.EngineFinished):
            finished = event
            for failure in event.failures:
                found[f"run: {failure.title}"].add(failure.message)
    assert finished is not None and finished.stop_reason is StopReason.COMPLETED
    return found, tested


def _report(found: Found) -> str:
    return "\n\n".join(f"{key}:\n" + "\n".join(sorted(v)[:2]) for key, v in sorted(found.items()))


@pytest.fixture(scope="module", params=["reads open", "reads keyed"])
def fuzzed(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NewsQA, FastAPI]]:
    """A keyed server, with reads open (the default) or keyed (``NEWSQA_API__KEY_READS=1``).
    Its background round of the watches never comes (a webhook the fuzzer gives a watch names
    a made-up host: nothing is posted to it)."""
    svc = _build(tmp_path_factory.mktemp("fuzz"), embedding__embedder="hash", api__key=KEY,
                 api__key_reads=request.param == "reads keyed", watch__check_seconds=3600)
    yield svc, create_app(svc)
    svc.close()


@pytest.mark.slow
def test_every_operation_keeps_its_documented_contract(fuzzed: tuple[NewsQA, FastAPI]) -> None:
    _, app = fuzzed
    operations = {
        f"{method.upper()} {path}"
        for path, ops in app.openapi()["paths"].items() for method in ops
    }
    found, tested = fuzz(app)
    assert not found, _report(found)
    for phase in ("coverage", "fuzzing"):
        assert {label for p, label in tested if p == phase} == operations, phase
    assert ("stateful", None) in tested


def test_the_fuzzing_finds_a_page_that_says_reads_need_the_key(tmp_path: Path) -> None:
    """The fuzzing can fail: the page of 7e0c65d (reads "need" the key, which they do not) is
    caught, as schemathesis caught it then."""
    svc = open_service(tmp_path / "index", embedding__embedder="hash", api__key=KEY)
    app = create_app(svc)
    make = app.openapi

    def claims_reads_need_the_key() -> dict[str, Any]:
        doc = make()
        for ops in doc["paths"].values():
            for op in ops.values():
                if {} in op.get("security", []):
                    op["security"].remove({})
        return doc

    app.openapi = claims_reads_need_the_key  # type: ignore[method-assign]
    try:
        found, _ = fuzz(app, examples=5, path="/v1/models")
    finally:
        svc.close()
    assert any(key.startswith("GET /v1/models ignored_auth") for key in found), _report(found)
