"""Schema fuzzing: schemathesis generates requests from ``/openapi.json`` for every operation,
valid ones and invalid ones, and checks the replies: no server error, every status code, content
type, header and body as documented, and the API key enforced.

Bounded and deterministic: 25 examples per operation and mode, a fixed derandomized seed, no
shrinking (a failure is reported as found), against an app on a hash-embedder service of its own
(the fuzzer adds and deletes articles).
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from newsqa.api import create_app
from tests.api.conftest import KEY, _build

EXAMPLES = 25
CHECKS = [
    not_a_server_error, response_schema_conformance, status_code_conformance,
    content_type_conformance, response_headers_conformance, ignored_auth,
]
# Rules no JSON schema can state (a question of blanks, "since" after "until") make valid-looking
# data a 422, and a 422 for data that only looks invalid is the API being lenient: not failures.
NOT_CHECKED = [positive_data_acceptance, negative_data_rejection]
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    """The app's own OpenAPI document, called in-process; reads and writes need the key."""
    svc = _build(tmp_path_factory.mktemp("fuzz"), embedder="hash", api_key=KEY,
                 api_key_reads=True)
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(svc))
    svc.close()


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS, excluded_checks=NOT_CHECKED)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_documented_contract(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 13
    for op in operations:
        try:
            _fuzz(op, mode)
        except hypothesis.errors.Unsatisfiable:
            # an operation without parameters or body has no invalid request to make
            assert mode is GenerationMode.NEGATIVE and not list(op.iter_parameters()), op.label
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
            failures[op.label] = str(exc)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
