"""The site's favicon and its own error pages: 404 for readers (DEBUG on or off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_favicon_is_shipped_linked_and_answered_at_favicon_ico(client: Client) -> None:
    found = finders.find("newsrec/favicon.ico")
    assert found is not None
    assert Path(str(found)).read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get(reverse("newsrec:privacy")).content.decode()
    assert 'rel="icon" href="/static/newsrec/favicon.ico"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/newsrec/favicon.ico"


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path", ["/no-such-page/", "/no/such/page", "/articles/x/", "/articles/999999/",
             "/section/No-such-section/"],
)  # fmt: skip
def test_unknown_reader_urls_get_the_sites_404_page(
    client: Client, settings: Any, debug: bool, path: str
) -> None:
    settings.DEBUG = debug
    response = client.get(path)
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["404.html", "newsrec/base.html"]
    page = response.content.decode()
    assert "The Harbourtown Ledger" in page
    assert "Page not found" in page
    assert reverse("newsrec:home") in page


def test_a_reader_url_without_its_slash_is_still_redirected(client: Client) -> None:
    response = client.get("/privacy?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/privacy/?x=1"


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/admin/no-such-thing/"])
def test_the_api_and_the_admin_keep_their_own_404s(
    client: Client, settings: Any, path: str
) -> None:
    settings.DEBUG = False
    response = client.get(path, follow=True)
    assert "404.html" not in [t.name for t in response.templates]
