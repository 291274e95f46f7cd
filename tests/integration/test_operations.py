"""Operations: a database outage answers 503s, readiness, metrics, login lockout, JSON logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from editorial.models import RulesState
from newsrec.models import Feed


@pytest.fixture
def database_down(transactional_db: None) -> Iterator[None]:
    """The default database points at a port where nothing listens (the real server stays up).

    Transactional: the test holds no open transaction on the connection it breaks.
    """
    saved = {**connection.settings_dict, "OPTIONS": dict(connection.settings_dict["OPTIONS"])}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="9")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.usefixtures("database_down")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/"),
        ("get", "/articles/1/"),
        ("get", "/section/Sport/"),
        ("get", "/privacy/"),
        ("get", "/admin/"),  # with a session cookie: the session is read from the database
        ("post", "/admin/login/"),
    ],
)
def test_site_pages_answer_a_fast_503_while_the_database_is_down(method: str, path: str) -> None:
    client = Client()
    client.cookies["sessionid"] = "a" * 32
    start = time.monotonic()
    response = getattr(client, method)(path, data={"username": "ed", "password": "secret"})
    assert time.monotonic() - start < 3
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    assert b"Temporarily unavailable" in response.content


@pytest.mark.usefixtures("database_down")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/feeds/me/", None),
        ("get", "/api/v1/articles/1/", None),
        ("post", "/api/v1/auth/token/", {"username": "ed", "password": "secret"}),
    ],
)
def test_api_answers_503_in_the_error_shape_while_the_database_is_down(
    method: str, path: str, body: dict[str, str] | None
) -> None:
    response = getattr(Client(), method)(path, data=body, content_type="application/json")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The database is unavailable; try again shortly.",
        "errors": {},
    }


# --- /healthz/ and /readyz/ (#14.16) --------------------------------------------------------


@pytest.mark.usefixtures("database_down")
def test_healthz_is_liveness_only_and_answers_while_the_database_is_down() -> None:
    response = Client().get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.usefixtures("database_down")
def test_readyz_names_the_database_when_it_is_down() -> None:
    response = Client().get("/readyz/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert response.json()["status"] == "unavailable"
    assert checks["database"] == {"ok": False, "error": "OperationalError"}
    assert checks["pgvector"] == {"ok": False, "error": "database unavailable"}
    assert checks["rules"] == {"ok": False, "error": "database unavailable"}
    assert checks["broker"]["ok"] is True


@pytest.mark.django_db
def test_readyz_is_200_with_details_when_everything_answers(celery_worker: object) -> None:
    live = RulesState.current()
    Feed.objects.create(key="default", rules_version=live, built_at=timezone.now())
    response = Client().get("/readyz/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {
        "database", "pgvector", "broker", "embedding_model", "celery_workers", "rules",
    }  # fmt: skip
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["pgvector"]["version"]
    assert body["checks"]["rules"]["live_rules_version"] == live
    assert body["checks"]["rules"]["default_feed_rules_version"] == live
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def worker_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's ping reply, without starting one (other checks are under test)."""
    monkeypatch.setattr(current_app.control, "ping", lambda **kw: [{"w@h": {"ok": "pong"}}])


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
def test_readyz_is_503_when_no_worker_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(current_app.control, "ping", lambda **kw: [])
    response = Client().get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"]["celery_workers"] == {"ok": False}


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
def test_readyz_is_503_when_the_broker_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # Celery's broker_url prefers this variable over its settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    start = time.monotonic()
    response = Client().get("/readyz/")
    assert time.monotonic() - start < 3
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"] == {"ok": False, "error": "ConnectionError"}
    assert checks["celery_workers"] == {"ok": False, "error": "broker unavailable"}
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
def test_readyz_is_503_when_the_embedding_model_is_missing(tmp_path: Any) -> None:
    with override_settings(NEWSREC={"EMBEDDING_MODEL": str(tmp_path / "missing")}):
        response = Client().get("/readyz/")
    assert response.status_code == 503
    assert response.json()["checks"]["embedding_model"] == {"ok": False}


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_answers")
@pytest.mark.parametrize(
    ("behind", "built_hours_ago", "ready"),
    [(0, 5, True), (1, 0.1, True), (1, 5, False)],
    ids=["current", "just-changed", "stalled"],
)
def test_readyz_compares_stored_feeds_with_the_live_rules(
    behind: int, built_hours_ago: float, ready: bool
) -> None:
    live = RulesState.current()
    now = timezone.now()
    Feed.objects.create(
        key="default", rules_version=live - behind, built_at=now - timedelta(hours=built_hours_ago)
    )
    Feed.objects.create(key="reader:old", rules_version=0, built_at=now - timedelta(days=90))
    response = Client().get("/readyz/")
    rules = response.json()["checks"]["rules"]
    assert rules == {
        "ok": ready,
        "live_rules_version": live,
        "oldest_feed_rules_version": 0,
        "default_feed_rules_version": live - behind,
    }
    assert response.status_code == (200 if ready else 503)
