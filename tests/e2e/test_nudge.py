"""The "Before you go" nudge in the browser: exit intent on a desktop, the end of an article on
a phone, keyboard use, the daily cap and opt-out, with screenshots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from newsrec import feeds, profiles
from newsrec.models import Article, Reader
from newsrec.readers import personalisation_set
from newsrec.retention.selectors import nudge_count_key
from tests.e2e.conftest import SCREENSHOTS, csp_watch

pytestmark = pytest.mark.e2e
DIALOG = "dialog[data-newsrec-nudge]"


def become_a_reader(page: Any, articles: list[Article]) -> Reader:
    """Finish two stories through the events API (the browser's cookie names the reader)."""
    now = timezone.now().isoformat()
    events = [
        {"event_id": f"f{a.pk}", "kind": "finish", "article_id": a.pk, "occurred_at": now}
        for a in articles[:2]
    ]
    response = page.request.post(
        "/api/v1/events/",
        data=json.dumps({"events": events}),
        headers={"Content-Type": "application/json"},
    )
    assert response.ok, response.text()
    reader = Reader.objects.get()
    profiles.profile_rebuild(reader_id=reader.pk)
    feeds.feeds_rebuild(reader_ids=[reader.pk])
    # Reader ids restart with every test here: a count left by an earlier test must not cap.
    cache.delete(nudge_count_key(reader_id=reader.pk, day=timezone.now().date()))
    return reader


def leave_through_the_top(page: Any) -> None:
    page.wait_for_timeout(2100)  # nudge.js ignores the first two seconds on a page
    page.mouse.move(640, 200)
    page.mouse.move(640, 2, steps=5)
    page.mouse.move(640, -40)


def test_desktop_exit_intent_opens_it_and_the_keyboard_closes_it(
    demo_site: list[Article], page: Any, settings: Any
) -> None:
    settings.NEWSREC = {"NUDGE_MAX_PER_DAY": 2}
    become_a_reader(page, demo_site)
    article = demo_site[5]
    page.goto(f"/articles/{article.pk}/")
    dialog = page.locator(DIALOG)
    assert not dialog.is_visible()
    page.mouse.move(640, 500)
    page.mouse.move(700, 600)  # moving about the page is not leaving
    page.wait_for_timeout(300)
    assert not dialog.is_visible()

    leave_through_the_top(page)
    dialog.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "newsrec-nudge-title"
    items = dialog.locator("li[data-newsrec-article]")
    assert items.count() == 3
    shown = [int(x) for x in items.evaluate_all("els => els.map(e => e.dataset.newsrecArticle)")]
    assert article.pk not in shown
    assert not {a.pk for a in demo_site[:2]} & set(shown)  # what they read is not offered
    assert all(r.strip() for r in dialog.locator(".newsrec-nudge__reason").all_inner_texts())
    page.screenshot(path=SCREENSHOTS / "nudge-desktop.png")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    leave_through_the_top(page)  # once per page
    page.wait_for_timeout(500)
    assert not dialog.is_visible()

    page.reload()  # the second of two today: closed with its button
    leave_through_the_top(page)
    dialog.wait_for(state="visible")
    close = dialog.get_by_role("button", name="Close “Before you go”")
    close.focus()
    page.keyboard.press("Enter")
    dialog.wait_for(state="hidden")

    page.reload()  # the cap is spent: the page carries no nudge
    assert page.locator(DIALOG).count() == 0


def test_on_a_phone_the_end_of_the_article_opens_it(
    browser: Any, live_server: Any, demo_site: list[Article]
) -> None:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True,
        has_touch=True,
    )  # fmt: skip
    violations = csp_watch(context)
    phone = context.new_page()
    try:
        become_a_reader(phone, demo_site)
        story = demo_site[6]
        # a long read: its end is well below a phone's first screen whatever the fonts
        long_body = "\n\n".join([story.body] * 8)
        Article.objects.filter(pk=story.pk).update(body=long_body)
        phone.goto(f"/articles/{story.pk}/")
        dialog = phone.locator(DIALOG)
        phone.wait_for_timeout(2300)
        assert not dialog.is_visible()  # the story's end is not in view yet
        phone.locator(".newsrec-nudge-end").scroll_into_view_if_needed()
        dialog.wait_for(state="visible")
        assert dialog.locator("li[data-newsrec-article]").count() == 3
        phone.screenshot(path=SCREENSHOTS / "nudge-phone.png")
        dialog.get_by_role("button", name="Close “Before you go”").tap()
        dialog.wait_for(state="hidden")
    finally:
        context.close()
    assert not violations, violations


def test_no_nudge_for_a_reader_who_opted_out(demo_site: list[Article], page: Any) -> None:
    reader = become_a_reader(page, demo_site)
    personalisation_set(reader=reader, enabled=False)
    page.goto(f"/articles/{demo_site[5].pk}/")
    assert page.locator(DIALOG).count() == 0
    assert page.locator("script[src*='nudge.js']").count() == 0
