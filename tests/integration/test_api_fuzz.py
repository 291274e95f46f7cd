"""Schema fuzzing: schemathesis sends cases generated from docs/openapi.yaml; nothing may 5xx.

Cases go to the real WSGI application in turn anonymously, as a reader's app (token) and as a
server holding an API key with every scope, so that the writes are exercised too.
Answers must also match the documented status codes, content types and body schemas.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from editorial.models import Rule, RuleSet
from newsrec.api.authentication import api_key_create
from newsrec.models import ApiKeyScope
from tests.factories import make_article

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


_turns = itertools.cycle(["anonymous", "reader", "server"])
schema = schemathesis.openapi.from_path(SCHEMA)
schema.app = get_wsgi_application()


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # As Django's test client does: a request must not close the test's transaction connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def identities(db: None) -> dict[str, dict[str, str]]:
    """Headers of the three callers; objects exist so that some ids resolve."""
    make_article(tags=["transport"])
    rule_set = RuleSet.objects.create(name="Fuzz draft")
    Rule.objects.create(rule_set=rule_set, kind="mmr", mmr_lambda=0.5)
    user = User.objects.create_user("fuzzer", password="fuzz-password-1")
    _key, raw = api_key_create(name="fuzz", scopes=[s.value for s in ApiKeyScope])
    return {
        "anonymous": {},
        "reader": {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"},
        "server": {"Authorization": f"Api-Key {raw}"},
    }


@pytest.mark.fuzz
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure here is reproducible
)
def test_api_never_errors(case: Any, identities: dict[str, dict[str, str]]) -> None:
    name = next(_turns)
    headers = identities[name]
    if name == "reader":  # an earlier case may have revoked it (DELETE /auth/token/)
        user = User.objects.get(username="fuzzer")
        headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
