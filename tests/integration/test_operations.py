"""Operations: a database outage answers 503s, readiness, metrics, login lockout, JSON logs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client


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
