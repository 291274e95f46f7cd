"""Request bodies: deep nesting is a 400, a body over the size limit a 413, in the error shape."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from newsrec.api import errors
from newsrec.api.authentication import api_key_create
from newsrec.models import Article

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


def test_a_batch_within_the_documented_row_limits_is_stored(manager: APIClient) -> None:
    body = "word " * 30_000  # 150,000 characters, under MAX_BODY_CHARS
    rows = [{"external_id": f"big-{i}", "title": f"Long read {i}", "body": body} for i in range(20)]
    payload = json.dumps(rows)
    assert len(payload) > 2_621_440  # beyond Django's default DATA_UPLOAD_MAX_MEMORY_SIZE
    response = manager.generic(
        "POST", "/api/v1/articles/", payload, content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == 20


def test_a_batch_over_the_request_size_limit_is_a_413(manager: APIClient) -> None:
    rows = [{"external_id": f"r-{i}", "title": "t", "body": "x" * 900} for i in range(20)]
    with override_settings(NEWSREC={"API_MAX_BODY_BYTES": 10_000}):
        response = manager.post("/api/v1/articles/", rows, format="json")
    assert response.status_code == 413
    assert response.json() == {
        "code": "too_large",
        "message": "The body exceeds 10000 bytes.",
        "errors": {},
    }
    assert not Article.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
def test_other_endpoints_answer_413_beyond_djangos_upload_limit(manager: APIClient) -> None:
    response = manager.post("/api/v1/rules/", {"note": "x" * 2_000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    # Unless the body was read before the API's parser: Django's check, the same answer.
    request = RequestFactory().post("/api/v1/rules/", "x" * 2_000, content_type="text/plain")
    with pytest.raises(RequestDataTooBig) as exc_info:
        request.body  # noqa: B018
    answer = errors.bad_request(request, exc_info.value)
    assert answer.status_code == 413
    assert json.loads(answer.content)["code"] == "too_large"
