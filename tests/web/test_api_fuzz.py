"""schemathesis against /api/v1's own OpenAPI document, in-process, on both stores: no answer is a 500."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from orderbridge.web.roles import Permission
from orderbridge.web.tokens import add_token
from orderbridge.web.users import get_user
from tests.book.builders import make_book
from tests.web.conftest import WebApp

EXAMPLES = 8  # per operation: the suite stays well under its time budget on both stores


def _body(case: Any) -> Any:
    body = case.body
    return None if type(body).__name__ == "NotSet" else body


def test_schemathesis_finds_no_500_in_the_api(web: WebApp) -> None:
    # given: a book with an order, and an admin token (state-changing calls without CSRF ceremony)
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 5)
        book.order("202-0000001-0000001", [("A", 1)])
    web.add_user("fuzz", "admin")
    with web.sessions.begin() as session:
        token, _ = add_token(
            session, get_user(session, "fuzz"), name="fuzz", scopes=frozenset(Permission), clock=web.clock
        )
    client = web.token_client(token)
    document = client.get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []

    def check(operation: Any) -> None:
        # when: schemathesis generates requests for the operation
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            answer = client.request(
                case.method,
                case.formatted_path,
                params=case.query or None,
                json=_body(case),
                headers={k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"},
            )
            # then: never a server error, and every error has the one error body
            if answer.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {answer.status_code}")
            elif answer.status_code >= 400:
                shape = answer.headers.get("content-type", "")
                assert shape.startswith("application/json"), (
                    case.method,
                    case.formatted_path,
                    answer.status_code,
                    answer.text[:200],
                )
                assert set(answer.json()["error"]) == {"status", "code", "message", "fields"}, answer.text

        exercise()

    for operation in operations:
        check(operation)
    assert failures == []
    assert "HTTPValidationError" not in str(document)
