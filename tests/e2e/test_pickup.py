""" "Pick up where you left off" in the browser: on the front page, reached and dismissed with
the keyboard (its button, or Escape), focus kept on the page, gone for the day; a screenshot."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from newsrec.models import Article
from newsrec.retention.nudges import nudge_count_key, nudge_dismissed_key
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_nudge import become_a_reader

pytestmark = pytest.mark.e2e
REGION = "section[data-newsrec-pickup]"


@pytest.fixture
def sampler_settings(settings: Any) -> None:
    # The reader finished two stories in one visit; counted as a sampler here, their nudge is
    # one standout of their feed short enough to read now (demo stories are a few minutes).
    settings.NEWSREC = {"NUDGE_BINGE_STORIES_PER_VISIT": 99, "NUDGE_SHORT_READ_MINUTES": 60,
                        "NUDGE_PICKUP_MAX_PER_DAY": 5}  # fmt: skip


def forget_today(reader_id: int) -> None:
    today = timezone.now().date()
    cache.delete(nudge_dismissed_key(reader_id=reader_id, day=today, kind="pick-up"))
    cache.delete(nudge_count_key(reader_id=reader_id, day=today, kind="pick-up"))


def test_the_keyboard_reaches_and_dismisses_it(
    demo_site: list[Article], page: Any, sampler_settings: None
) -> None:
    reader = become_a_reader(page, demo_site)
    forget_today(reader.pk)
    page.goto("/")
    region = page.locator(REGION)
    region.wait_for(state="visible")
    assert region.get_attribute("aria-labelledby") == "newsrec-pickup-title"
    items = region.locator("li[data-newsrec-article]")
    assert items.count() == 1
    shown = int(items.first.get_attribute("data-newsrec-article"))
    assert shown not in {a.pk for a in demo_site[:2]}  # not what they read
    assert region.locator(".newsrec-pickup__reason").inner_text().startswith("A ")
    page.screenshot(path=SCREENSHOTS / "pickup-desktop.png")

    region.locator("a").first.focus()
    page.keyboard.press("Tab")
    assert "Dismiss" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    region.wait_for(state="detached")
    assert page.evaluate("document.activeElement !== document.body")  # focus stays on the page
    page.wait_for_timeout(300)  # the background post lands
    page.reload()
    assert page.locator(REGION).count() == 0  # dismissed for today

    forget_today(reader.pk)
    page.reload()
    region = page.locator(REGION)
    region.wait_for(state="visible")
    region.locator("a").first.focus()
    page.keyboard.press("Escape")
    region.wait_for(state="detached")
    page.wait_for_timeout(300)
    page.reload()
    assert page.locator(REGION).count() == 0


def test_without_javascript_the_dismiss_button_still_works(
    browser: Any, live_server: Any, demo_site: list[Article], sampler_settings: None
) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        reader = become_a_reader(page, demo_site)
        forget_today(reader.pk)  # reader ids restart with every test: nothing left from another
        page.goto("/")
        page.get_by_role("button", name="Dismiss “Pick up where you left off”").click()
        page.wait_for_load_state()
        assert page.url.rstrip("/") == live_server.url.rstrip("/")
        assert page.locator(REGION).count() == 0
    finally:
        context.close()
