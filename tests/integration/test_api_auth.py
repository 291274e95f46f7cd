"""Reader tokens, throttling (429 + Retry-After), CSRF on session writes, JSON errors under /api/."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from newsrec.api import errors
from newsrec.api.authentication import api_key_create
from newsrec.models import Event, Reader
from tests.factories import make_article

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


def _now() -> str:
    return timezone.now().isoformat()


@pytest.fixture
def ada() -> User:
    return User.objects.create_user("ada", password="a-long-password-1")


def test_token_login_identifies_the_reader_everywhere(ada: User) -> None:
    article = make_article()
    login = {"username": "ada", "password": "a-long-password-1"}
    assert APIClient().post(TOKEN, login).status_code == 415  # a JSON API: no form posts
    response = APIClient().post(TOKEN, login, format="json")
    assert response.status_code == 200
    body = response.json()
    reader = Reader.objects.get(user=ada)
    assert body["reader_id"] == str(reader.public_id)
    again = APIClient().post(
        TOKEN, {"username": "ada", "password": "a-long-password-1"}, format="json"
    )
    assert again.json()["token"] == body["token"]  # one token per user until revoked
    app = APIClient(HTTP_AUTHORIZATION=f"Token {body['token']}")
    event = {"event_id": "app-1", "kind": "click", "article_id": article.pk, "occurred_at": _now()}
    assert app.post("/api/v1/events/", {"events": [event]}, format="json").status_code == 200
    assert Event.objects.get(event_id="app-1").reader == reader
    assert app.get("/api/v1/me/export/").json()["reader"]["id"] == str(reader.public_id)
    assert app.post("/api/v1/me/personalisation/", {"enabled": False}, format="json").json() == {
        "enabled": False
    }
    assert app.delete(TOKEN).status_code == 204
    assert not Token.objects.filter(user=ada).exists()
    assert app.get("/api/v1/me/export/").status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "ada", "password": "wrong"},
        {"username": "nobody", "password": "a-long-password-1"},
        {"username": "ada"},
        {"username": "ada\x00", "password": "a-long-password-1"},
        {"username": ["ada"], "password": "a-long-password-1"},
        # found by the schema fuzzer: 500s from the login lockout's own table
        {"username": "a" * 300, "password": "a-long-password-1"},
        {"username": "ada\udbe8", "password": "a-long-password-1"},
        {"username": "ada", "password": "pass\ud800word"},
    ],
)
def test_bad_logins_are_400_with_the_error_shape(ada: User, payload: dict[str, Any]) -> None:
    # json.dumps escapes lone surrogates as \udXXX, as a hostile client would send them
    response = APIClient().post(TOKEN, json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Token.objects.exists()


def test_inactive_users_get_no_token_and_revoking_needs_a_token(ada: User) -> None:
    ada.is_active = False
    ada.save()
    login = {"username": "ada", "password": "a-long-password-1"}
    assert APIClient().post(TOKEN, login, format="json").status_code == 400
    assert APIClient().delete(TOKEN).status_code == 401
    assert APIClient(HTTP_AUTHORIZATION="Token nope").get("/api/v1/feeds/me/").status_code == 401


# --- Throttling --------------------------------------------------------------------------------


@pytest.fixture
def low_rates(settings: Any) -> None:
    settings.NEWSREC = {
        **settings.NEWSREC,
        "API_RATES": {
            "api_key": "3/min",
            "reader": "3/min",
            "anon": "2/min",
            "auth": "2/min",
        },
    }


def _address() -> str:
    """A fresh client address, so that runs sharing the Redis cache never share a count."""
    return "10." + ".".join(str(b) for b in secrets.token_bytes(3))


def _assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    assert response.json()["errors"] == {}


def test_anonymous_visitors_are_limited_per_address(low_rates: None) -> None:
    visitor = APIClient(REMOTE_ADDR=_address())
    assert [visitor.get("/api/v1/articles/").status_code for _ in range(2)] == [200, 200]
    _assert_throttled(visitor.get("/api/v1/articles/"))
    # Dropping the reader cookie or faking X-Forwarded-For does not reset the count.
    visitor.cookies.clear()
    _assert_throttled(visitor.get("/api/v1/articles/", HTTP_X_FORWARDED_FOR=_address()))
    assert APIClient(REMOTE_ADDR=_address()).get("/api/v1/articles/").status_code == 200


def test_api_keys_and_readers_have_their_own_budgets(low_rates: None, ada: User) -> None:
    address = _address()
    _key, raw_a = api_key_create(name="a", scopes=["read-feeds"])
    _key, raw_b = api_key_create(name="b", scopes=["read-feeds"])
    key_a = APIClient(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Api-Key {raw_a}")
    assert [key_a.get("/api/v1/articles/").status_code for _ in range(3)] == [200] * 3
    _assert_throttled(key_a.get("/api/v1/articles/"))
    key_b = APIClient(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Api-Key {raw_b}")
    assert key_b.get("/api/v1/articles/").status_code == 200
    cache.delete(f"throttle_reader_{ada.pk}")  # user ids repeat across test databases
    token = Token.objects.create(user=ada).key
    app = APIClient(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Token {token}")
    assert [app.get("/api/v1/articles/").status_code for _ in range(3)] == [200] * 3
    _assert_throttled(app.get("/api/v1/articles/"))


def test_password_guessing_is_limited(low_rates: None, ada: User) -> None:
    guesser = APIClient(REMOTE_ADDR=_address())
    for _ in range(2):
        wrong = {"username": "ada", "password": "x"}
        assert guesser.post(TOKEN, wrong, format="json").status_code == 400
    right = {"username": "ada", "password": "a-long-password-1"}
    _assert_throttled(guesser.post(TOKEN, right, format="json"))


# --- CSRF ----------------------------------------------------------------------------------------


def test_session_writes_need_the_csrf_token(ada: User) -> None:
    ada.is_staff = True
    ada.save()
    browser = APIClient(enforce_csrf_checks=True)
    browser.get("/admin/login/")  # a page with a form sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    browser.login(username="ada", password="a-long-password-1")
    row = [{"external_id": "c1", "title": "t"}]
    refused = browser.post("/api/v1/articles/", row, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    allowed = browser.post("/api/v1/articles/", row, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert allowed.status_code == 200


def test_cookie_readers_need_the_csrf_token_to_change_their_data() -> None:
    article = make_article()
    browser = APIClient(enforce_csrf_checks=True)
    event = {"event_id": "b-1", "kind": "click", "article_id": article.pk, "occurred_at": _now()}
    # The beacon endpoint is exempt (sendBeacon cannot send the token) but refuses cross-site.
    sent = browser.post("/api/v1/events/", {"events": [event]}, format="json")
    assert sent.status_code == 200, sent.content
    cross = browser.post(
        "/api/v1/events/", {"events": [event]}, format="json", HTTP_ORIGIN="https://evil.example"
    )
    assert cross.status_code == 403
    assert browser.delete("/api/v1/me/").status_code == 403
    off = browser.post("/api/v1/me/personalisation/", {"enabled": False}, format="json")
    assert off.status_code == 403
    assert Reader.objects.get().personalisation_enabled is True
    assert Event.objects.count() == 1
    browser.get("/admin/login/")
    csrf = browser.cookies["csrftoken"].value
    assert browser.delete("/api/v1/me/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert not Reader.objects.exists()


# --- One error shape -----------------------------------------------------------------------------


def test_api_paths_answer_json_errors_and_site_paths_html(client: Any) -> None:
    missing = client.get("/api/v1/nothing-here/")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "not_found", "message": "No API endpoint at /api/v1/nothing-here/.", "errors": {}
    }  # fmt: skip
    assert client.get("/api/elsewhere").json()["code"] == "not_found"
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")
    wrong_method = client.patch("/api/v1/feeds/me/")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    unsupported = client.post(
        "/api/v1/events/", "a=1", content_type="application/x-www-form-urlencoded"
    )
    assert unsupported.status_code == 415
    assert unsupported.json()["code"] == "unsupported_media_type"


def test_without_a_configured_prefix_json_errors_follow_where_the_api_is_included(
    client: Any, settings: Any
) -> None:
    settings.NEWSREC = {**settings.NEWSREC, "API_PATH_PREFIX": None}
    assert errors.api_prefix() == "/api/v1/"  # config.urls includes newsrec.api.urls there
    assert client.get("/api/v1/nothing-here/").json()["code"] == "not_found"
    assert client.get("/api/elsewhere")["Content-Type"].startswith("text/html")


def test_a_crash_under_api_is_a_json_500(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("newsrec.selectors.article_list", explode)
    client.raise_request_exception = False
    response = client.get("/api/v1/articles/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "boom" not in response.content.decode()
    page = errors.server_error(RequestFactory().get("/"))
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


@override_settings(DEBUG=True)
def test_api_errors_stay_json_with_debug_on(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # With DEBUG on Django answers its own HTML pages instead of calling the handler* views.
    missing = client.get("/api/v1/nothing-here/")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "not_found", "message": "No API endpoint at /api/v1/nothing-here/.", "errors": {}
    }  # fmt: skip
    bad_host = client.get("/api/v1/articles/", HTTP_HOST="evil.example")
    assert bad_host.status_code == 400
    assert bad_host.json()["code"] == "bad_request"

    def explode(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("newsrec.selectors.article_list", explode)
    client.raise_request_exception = False
    crash = client.get("/api/v1/articles/")
    assert crash.status_code == 500
    assert crash.json() == {
        "code": "server_error", "message": "Internal server error; it has been logged.", "errors": {}
    }  # fmt: skip
    assert "boom" not in crash.content.decode()
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")  # the reader site keeps its pages


def test_a_revoked_or_deleted_key_is_refused_at_once_although_keys_are_memoised() -> None:
    from newsrec.models import ApiKey

    key, raw = api_key_create(name="app", scopes=["write-events"])
    client = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    body = {"reader_id": "u1", "events": []}
    assert client.post("/api/v1/events/", body, format="json").status_code == 400  # accepted key
    key.revoked_at = timezone.now()
    key.save()
    assert client.post("/api/v1/events/", body, format="json").status_code == 401
    other, raw2 = api_key_create(name="app2", scopes=["write-events"])
    client2 = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw2}")
    assert client2.post("/api/v1/events/", body, format="json").status_code == 400
    ApiKey.objects.filter(pk=other.pk).delete()
    assert client2.post("/api/v1/events/", body, format="json").status_code == 401
