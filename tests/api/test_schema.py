"""Schemathesis over ``/openapi.json`` of a real server: no 5xx, every answer fits its schema.

Each operation gets a few generated requests (``EXAMPLES``), valid ones and
ones that break the schema on purpose, sent with the
key of the role its tag names (a provider's for ``/v1/records``, alice's
session for ``/v1/me``...), so the generated data reaches the service rather
than stopping at 401. Checks: not a server error, the status is documented,
the body fits the documented schema, and the content type is the one
declared.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Server

EXAMPLES = 10
ROLE_BY_TAG = {
    "providers": "provider",
    "relying parties": "relying_party",
    "subjects": "subject",
    "operator": "operator",
    "reviewers": "reviewer",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@pytest.mark.slow
def test_every_operation_fits_its_schema_and_never_fails(server: Server) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        # Signing out ends the session the other subject operations use: it goes last.
        if operation.method.upper() == "DELETE" and operation.path == "/v1/sessions":
            continue
        _fuzz(server, operation)
    _fuzz(server, schema["/v1/sessions"]["DELETE"])


def _fuzz(server: Server, operation: schemathesis.APIOperation) -> None:
    tags = operation.definition.raw.get("tags", ["operator"])
    headers = server.cast.headers(ROLE_BY_TAG[tags[0]])

    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=server.url, headers=headers)
        case.validate_response(response, checks=CHECKS)

    run()
