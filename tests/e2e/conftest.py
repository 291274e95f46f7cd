"""Browser fixtures: Debian's Chromium driven by Playwright, a live server and demo articles.

Chromium comes from the system (``apt-get install chromium``); Playwright never downloads one.
The demo articles get stable ids (sequences are reset per test) and identical text and vectors in
every test, so a pool the Celery worker cached during one test is still right in the next.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import transaction

from demo.content import rows as demo_rows
from newsrec import feeds, services
from newsrec.models import Article
from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DEMO_SECTIONS = ("Local", "Sport", "Science", "Culture")
PER_SECTION = 6
MAX_AGE_HOURS = 300  # inside the feeds' 14-day pool


# Requests the live server is still answering. A page's beacon may still be posting (and, with
# Celery eager, updating the reader's profile and feed) when a test ends; flushing the database
# under it deadlocks, and the next test starts on the rows it left. Teardowns wait for these.
# The live server (socketserver's ThreadingMixIn) answers each request on a thread of its own;
# only those are counted: a test client's request that raised, in any thread, never finishes.
_in_flight: set[int] = set()


def _request_started(**kwargs: Any) -> None:
    if "process_request_thread" in threading.current_thread().name:
        _in_flight.add(threading.get_ident())


def _request_finished(**kwargs: Any) -> None:
    _in_flight.discard(threading.get_ident())


request_started.connect(_request_started, dispatch_uid="tests.e2e.request_started")
request_finished.connect(_request_finished, dispatch_uid="tests.e2e.request_finished")


def live_requests_wait(timeout: float = 30.0) -> None:
    """Return once the live server has answered every request it received (or after
    ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while _in_flight and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; Django would then refuse the
    # ORM calls the tests make between browser steps (the live server runs in its own thread).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def csp_watch(ctx: Any) -> list[str]:
    """Collect the Content-Security-Policy violations Chromium reports in this context."""
    violations: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    ctx.on("console", on_console)
    return violations


@pytest.fixture
def context(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser profile (a new visitor) that may reach only the live server; it must
    meet no Content-Security-Policy violation."""
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    violations = csp_watch(ctx)
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_local)
    yield ctx
    ctx.close()
    live_requests_wait()
    assert not outside, f"third-party requests: {outside}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def _demo_rows() -> list[dict[str, Any]]:
    raw = demo_rows.read_demo_file(demo_rows.DEMO_ARTICLES)
    chosen: list[dict[str, Any]] = []
    for section in DEMO_SECTIONS:
        fresh = [
            r
            for r in raw
            if r.get("section") == section
            and r.get("status", "published") == "published"
            and r.get("embargo_in_hours") is None
            and (r.get("published_ago_hours") or MAX_AGE_HOURS) < MAX_AGE_HOURS
        ]
        chosen += fresh[:PER_SECTION]
    return chosen


@pytest.fixture
def demo_site(transactional_db: None, django_db_reset_sequences: None) -> Iterator[list[Article]]:
    """24 demo articles embedded by the real model, and the non-personalised feed built; on
    the way out, waits for the live server's requests before the database is emptied."""
    from django.utils import timezone

    rows = demo_rows.dated_rows(_demo_rows(), anchor=demo_rows.fresh_anchor(timezone.now()))
    # Embedding inside the upsert's transaction: the task queued on commit finds nothing to do.
    with transaction.atomic():
        report = services.article_upsert_many(rows=rows)
        assert not report.rejected, report.rejected
        ids = list(Article.objects.order_by("pk").values_list("pk", flat=True))
        result = services.articles_embed(article_ids=ids)
        assert result["embedded"] == len(ids)
    feeds.pool_cache_clear()
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield list(Article.objects.order_by("pk"))
    live_requests_wait()
