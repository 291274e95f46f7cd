"""Production settings pass `manage.py check --deploy`; the reader cookie is Secure over HTTPS."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from newsrec import readers
from tests.factories import ArticleFactory

ROOT = Path(__file__).resolve().parents[2]


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTEST_VERSION", "DEBUG", "DJANGO_SETTINGS_MODULE"}
        and not k.startswith("SECURE_")
    }
    production = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "example.org",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
    }
    env.update({**production, **overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_production_settings_pass_check_deploy() -> None:
    result = _check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_an_insecure_setting() -> None:
    # The check is live: dropping HTTPS redirects is reported (so the test above can fail).
    result = _check_deploy(SECURE_SSL_REDIRECT="0")
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def _reader_cookie(**request: Any) -> Any:
    article = ArticleFactory.create()
    event = {
        "event_id": "e1", "kind": "click", "article_id": article.pk,
        "occurred_at": timezone.now().isoformat(),
    }  # fmt: skip
    response = APIClient().post("/api/v1/events/", [event], format="json", **request)
    assert response.status_code == 200
    return response.cookies[readers.COOKIE_NAME]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("https", "session_cookie_secure", "secure"),
    [(False, False, False), (True, False, True), (False, True, True)],
)
def test_reader_cookie_is_secure_over_https_or_when_the_site_says_so(
    monkeypatch: pytest.MonkeyPatch, https: bool, session_cookie_secure: bool, secure: bool
) -> None:
    monkeypatch.setattr("newsrec.profiles.profile_schedule", lambda **kw: False)
    with override_settings(SESSION_COOKIE_SECURE=session_cookie_secure):
        cookie = _reader_cookie(secure=https)
    assert bool(cookie["secure"]) is secure
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def test_check_deploy_flags_a_reader_cookie_sent_over_plain_http() -> None:
    result = _check_deploy(SECURE_COOKIES="0", SECURE_SSL_REDIRECT="0")
    assert "newsrec.W001" in result.stdout + result.stderr
    assert "newsrec.W001" not in _check_deploy().stdout
