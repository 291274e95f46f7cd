"""REST API for articles: batch upsert with per-row reasons, auth, related, error shape."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from newsrec.api.authentication import api_key_create
from newsrec.models import Article, ArticleStatus, EmbeddingStatus
from tests.factories import make_article

pytestmark = pytest.mark.django_db

URL = "/api/v1/articles/"


@pytest.fixture(autouse=True)
def _no_embedding_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsrec.services.embed_enqueue", lambda **kw: None)


@pytest.fixture
def writer() -> APIClient:
    _key, raw = api_key_create(name="CMS", scopes=["manage-articles"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_batch_upsert_stores_valid_rows_and_reports_rejected(writer: APIClient) -> None:
    rows = [
        {"external_id": "x1", "title": "Valid one", "section": "Local"},
        {"external_id": "x2", "title": ""},
        {"external_id": "x3", "title": "Bad date", "published_at": "not-a-date"},
        {"external_id": "x4", "title": "Bad status", "status": "live"},
        {"external_id": "x5", "title": "Bad url", "url": "ftp//nope"},
        {"external_id": "x6", "title": "NUL \u0000 byte"},
    ]
    response = writer.post(URL, rows, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 0, 0)
    reasons = {r["external_id"]: r["reasons"] for r in body["rejected"]}
    assert set(reasons) == {"x2", "x3", "x4", "x5", "x6"}
    assert "title" in reasons["x2"]
    assert "published_at" in reasons["x3"]
    assert list(Article.objects.values_list("external_id", flat=True)) == ["x1"]
    again = writer.put(URL, rows[:1], format="json").json()
    assert again["unchanged"] == 1


def test_all_rows_rejected_is_a_400_with_reasons(writer: APIClient) -> None:
    response = writer.post(URL, [{"title": "no id"}], format="json")
    assert response.status_code == 400
    assert response.json()["rejected"][0]["reasons"]["external_id"] == "is required"


def test_lone_surrogates_reject_their_row_and_the_rest_is_stored(writer: APIClient) -> None:
    rows = [
        {"external_id": "s1", "title": "Valid one"},
        {"external_id": "s2", "title": "Bad tag", "tags": ["ok", "x\ud800"]},
        {"external_id": "s3", "title": "Bad author", "authors": ["\udfff"]},
        {"external_id": "s4-\ud800", "title": "Bad id"},
        {"external_id": "s5", "title": "Valid two"},
    ]
    # json.dumps escapes the surrogates as \ud800: the body itself is valid UTF-8.
    response = writer.generic("POST", URL, json.dumps(rows), content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 2
    reasons = {r["index"]: r for r in body["rejected"]}
    assert "surrogate" in reasons[1]["reasons"]["tags"]
    assert "surrogate" in reasons[2]["reasons"]["authors"]
    assert reasons[3]["external_id"] == "s4-\\ud800"  # escaped, so the answer stays UTF-8
    assert "surrogate" in reasons[3]["reasons"]["external_id"]
    assert set(Article.objects.values_list("external_id", flat=True)) == {"s1", "s5"}


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ("{not json", "application/json"),
        ('"a string"', "application/json"),
        ("42", "application/json"),
    ],
)
def test_malformed_bodies_get_json_400(writer: APIClient, payload: str, content_type: str) -> None:
    response = writer.generic("POST", URL, payload, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert {"code", "message", "errors"} <= set(response.json())


def test_oversized_batch_is_refused(writer: APIClient) -> None:
    rows = [{"external_id": f"b{i}", "title": "t"} for i in range(501)]
    response = writer.post(URL, rows, format="json")
    assert response.status_code == 400
    assert "At most 500" in response.json()["errors"]["non_field_errors"][0]
    assert Article.objects.count() == 0


def test_dry_run_stores_nothing(writer: APIClient) -> None:
    response = writer.post(
        f"{URL}?dry_run=1", [{"external_id": "d1", "title": "Dry"}], format="json"
    )
    assert response.json()["created"] == 1
    assert response.json()["dry_run"] is True
    assert not Article.objects.exists()


def test_writes_need_scope_or_staff() -> None:
    anonymous = APIClient()
    assert anonymous.post(URL, [{"external_id": "a", "title": "t"}], format="json").status_code in (
        401,
        403,
    )
    _key, raw = api_key_create(name="reader app", scopes=["read-feeds"])
    scoped = APIClient()
    scoped.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert scoped.post(URL, [{"external_id": "a", "title": "t"}], format="json").status_code == 403
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Api-Key nr_wrong")
    assert bad.post(URL, [{"external_id": "a", "title": "t"}], format="json").status_code == 401
    staff = APIClient()
    staff.force_authenticate(User.objects.create_user("ed", is_staff=True))
    assert staff.post(URL, [{"external_id": "a", "title": "t"}], format="json").status_code == 200


def test_revoked_key_is_refused(writer: APIClient) -> None:
    from django.utils import timezone

    from newsrec.models import ApiKey

    ApiKey.objects.update(revoked_at=timezone.now())
    assert writer.post(URL, [{"external_id": "a", "title": "t"}], format="json").status_code == 401


def _vector(*hot: int) -> np.ndarray:
    v = np.zeros(384, dtype=np.float32)
    for i in hot:
        v[i] = 1.0
    return v / np.linalg.norm(v)


def test_related_returns_nearest_live_articles_only() -> None:
    from datetime import timedelta

    from django.utils import timezone

    ready = {"embedding_status": EmbeddingStatus.READY}
    seed = make_article(embedding=_vector(0), **ready)
    near = make_article(embedding=_vector(0, 1), **ready)
    far = make_article(embedding=_vector(5), **ready)
    make_article(embedding=_vector(0), status=ArticleStatus.RETRACTED, **ready)
    make_article(embedding=_vector(0), status=ArticleStatus.DRAFT, **ready)
    make_article(embedding=_vector(0), embargo_until=timezone.now() + timedelta(hours=2), **ready)
    make_article(embedding=_vector(0), published_at=timezone.now() + timedelta(hours=2), **ready)
    response = APIClient().get(f"{URL}{seed.pk}/related/?limit=5")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [near.pk, far.pk]
    assert response.json()[0]["similarity"] > response.json()[1]["similarity"]


@pytest.mark.parametrize("limit", ["0", "51", "abc", "-1"])
def test_related_rejects_bad_limit(limit: str) -> None:
    seed = make_article(embedding=_vector(0))
    response = APIClient().get(f"{URL}{seed.pk}/related/?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_unknown_article_is_json_404() -> None:
    response = APIClient().get(f"{URL}999999/related/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_article_page_shows_related_rail(client: object) -> None:
    seed = make_article(embedding=_vector(0), title="Seed story")
    make_article(embedding=_vector(0, 1), title="Close neighbour")
    response = client.get(f"/articles/{seed.pk}/")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert b"Close neighbour" in response.content


def test_openapi_schema_is_served() -> None:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/articles/{id}/related/" in response.json()["paths"]


@pytest.mark.parametrize("limit", ["²", "\u0661", str(10**30)])
def test_related_refuses_limits_that_are_not_ascii_digits(limit: str) -> None:
    seed = make_article(embedding=[1.0] + [0.0] * 383, embedding_status="ready")
    response = APIClient().get(f"{URL}{seed.pk}/related/?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]
