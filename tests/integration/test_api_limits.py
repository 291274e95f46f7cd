"""Hostile request bodies: deep nesting is a 400 in the one error shape, not a crash."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from newsrec.api.authentication import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager() -> APIClient:
    _key, raw = api_key_create(
        name="CMS", scopes=["manage-articles", "manage-rules", "write-events"]
    )
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("url", "levels"),
    [
        ("/api/v1/events/", 2_000),
        ("/api/v1/events/", 100_000),
        ("/api/v1/articles/", 2_000),
        ("/api/v1/articles/", 100_000),
        ("/api/v1/rules/", 100_000),
        ("/api/v1/rules/", 33),  # parses, but deeper than any request of this API
    ],
)
def test_deeply_nested_json_is_a_400_parse_error(manager: APIClient, url: str, levels: int) -> None:
    manager.raise_request_exception = False
    response = manager.generic("POST", url, _nested(levels), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "message": "JSON parse error - nested deeper than 32 levels.",
        "errors": {},
    }


def test_nesting_within_the_limit_reaches_the_view(manager: APIClient) -> None:
    response = manager.generic(
        "POST", "/api/v1/articles/", _nested(32), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["rejected"][0]["reasons"] == {"row": "must be an object"}
