"""The editors' room in a real browser: an editor drafts a boost and a pin and previews them; a
junior cannot publish; a senior editor publishes and the reader's served feed follows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from editorial import services
from editorial.models import RuleSet, RulesState
from newsrec import feeds
from newsrec.models import Article, Event, EventKind, Feed, Reader
from tests.conftest import wait_for
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import ReaderFactory
from tests.integration.test_editorial_publish import make_user

pytestmark = [pytest.mark.e2e, pytest.mark.worker]
PASSWORD = "editor-room-password"


def log_in(context: Any, user: User) -> Any:
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def staff(username: str, group: str) -> User:
    user = make_user(username, group)
    user.set_password(PASSWORD)
    user.save()
    return user


def sport_reader(articles: list[Article]) -> Reader:
    reader = cast(Reader, ReaderFactory.create(last_seen=timezone.now()))
    for n, article in enumerate(a for a in articles if a.section == "Sport"):
        Event.objects.create(
            reader=reader, event_id=f"e{n}", kind=EventKind.FINISH, article=article,
            occurred_at=timezone.now() - timedelta(minutes=n), dwell_seconds=120, read_depth=1.0,
        )  # fmt: skip
        if n == 2:
            break
    from newsrec.profiles import profile_rebuild

    profile_rebuild(reader_id=reader.pk)
    return reader


def science_in_top(page: Any, column: int) -> int:
    cells = page.locator(f"#preview-table tbody tr td:nth-child({column})")
    return sum("(Science)" in cells.nth(i).inner_text() for i in range(min(cells.count(), 10)))


def test_draft_preview_publish_and_the_feed_follows(
    demo_site: list[Article], browser: Any, live_server: Any, celery_worker: object
) -> None:
    junior = staff("junior", "Editor")
    senior = staff("senior", "Senior editor")
    services.ruleset_publish(rule_set=RuleSet.objects.create(name="Default"))
    reader = sport_reader(demo_site)
    feeds.feeds_rebuild(reader_ids=[reader.pk])
    pinned = max(
        (a for a in demo_site if a.section == "Culture"), key=lambda a: a.published_at or 0
    )
    assert pinned.pk not in [i["article_id"] for i in Feed.objects.get(reader=reader).items[:3]]

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = log_in(context, junior)
    assert page.get_by_text("Editors' room").count() == 1
    page.goto("/admin/editorial/ruleset/add/")
    page.fill("#id_name", "Election night")
    page.get_by_text("Add another Rule").click()
    page.select_option("#id_rules-0-kind", "boost")
    page.select_option("#id_rules-0-target_field", "section")
    page.fill("#id_rules-0-target_value", "Scien")
    # (a locator, not wait_for_function: the Content-Security-Policy forbids eval)
    page.locator("#id_rules-0-target_value-list option").first.wait_for(state="attached")
    page.fill("#id_rules-0-target_value", "Science")
    page.select_option("#id_rules-0-strength", label="Much more")
    assert not page.locator(".field-slot").first.is_visible()  # not a pin: no slot
    page.get_by_text("Add another Rule").click()
    page.select_option("#id_rules-1-kind", "pin")
    assert page.locator("#id_rules-1-target_field").input_value() == "article"
    page.fill("#id_rules-1-target_value", pinned.title[:12])
    option = page.locator("#id_rules-1-target_value-list option").first
    option.wait_for(state="attached")
    page.fill("#id_rules-1-target_value", f"{pinned.title} [#{pinned.pk}]")
    page.fill("#id_rules-1-slot", "2")
    page.screenshot(path=SCREENSHOTS / "editor-rule-form.png", full_page=True)
    page.click("input[name=_continue]")
    page.wait_for_url("**/change/")
    rule_set = RuleSet.objects.get(name="Election night")
    assert rule_set.rules.count() == 2
    assert "Only senior editors can publish" in page.content()

    page.get_by_role("link", name="Preview").click()
    page.fill("#id_reader", str(reader.public_id))
    page.get_by_role("button", name="Preview").or_(page.locator("input[value=Preview]")).click()
    page.wait_for_selector("#preview-table")
    slot_two = page.locator("#preview-table tbody tr").nth(1).locator("td").nth(2)
    assert slot_two.get_attribute("data-article") == str(pinned.pk)
    assert "editorial-pin" in (slot_two.get_attribute("class") or "")
    assert "Pinned by the editors" in slot_two.inner_text()
    assert science_in_top(page, 3) > science_in_top(page, 2)  # the boosted section rises
    page.screenshot(path=SCREENSHOTS / "editor-preview.png", full_page=True)
    response = page.goto(f"/admin/editorial/ruleset/{rule_set.pk}/publish/")
    assert response is not None
    assert response.status == 403  # a junior editor cannot publish
    context.close()

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = log_in(context, senior)
    page.goto(f"/admin/editorial/ruleset/{rule_set.pk}/change/")
    before = RulesState.current()
    page.click("#publish-review-link")
    changes = page.locator("#publish-changes").inner_text()
    assert f"Added: Pin “{pinned.title}” at slot 2" in changes  # reviewed in editors' words
    page.screenshot(path=SCREENSHOTS / "editor-publish-review.png", full_page=True)
    page.fill("#publish-note", "Election night coverage")
    page.click("input[name=_publish]")
    page.wait_for_selector("text=it is live")
    version = RulesState.current()
    assert version > before

    def feed_follows() -> bool:
        feed = Feed.objects.filter(reader=reader, rules_version__gte=version).first()
        return feed is not None and feed.items[1]["article_id"] == pinned.pk

    assert wait_for(feed_follows, timeout=90)
    served = feeds.feed_read(reader=reader, limit=10)
    assert served is not None
    assert served.items[1]["article_id"] == pinned.pk  # what the site and API serve
    page.reload()
    page.wait_for_selector("#fanout-bar")
    page.goto("/admin/editorial/ruleset/dashboard/")
    assert "Election night" in page.locator("#dash-live").inner_text()
    page.screenshot(path=SCREENSHOTS / "editor-dashboard.png", full_page=True)
    context.close()


def test_a_senior_editor_steers_one_section_page(
    demo_site: list[Article], browser: Any, live_server: Any
) -> None:
    """A set for the Sport page: the scope is picked with autocomplete, publishing needs no
    rebuild, and the Sport page (not the home page) shows the pinned article first."""
    senior = staff("senior", "Senior editor")
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    pinned = min(
        (a for a in demo_site if a.section == "Culture"), key=lambda a: a.published_at or 0
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = log_in(context, senior)
    page.goto("/admin/editorial/ruleset/add/")
    page.fill("#id_name", "Sport desk")
    page.select_option("#id_scope", "section")
    page.fill("#id_scope_value", "Spo")
    page.locator("#id_scope_value-list option").first.wait_for(state="attached")
    assert page.locator("#id_scope_value-list option").first.get_attribute("value") == "Sport"
    page.fill("#id_scope_value", "Sport")
    page.get_by_text("Add another Rule").click()
    page.select_option("#id_rules-0-kind", "pin")
    page.fill("#id_rules-0-target_value", f"{pinned.title} [#{pinned.pk}]")
    page.fill("#id_rules-0-slot", "1")
    # "Save and review publishing": what is on screen is saved, then reviewed, then published.
    page.click("#save-review")
    page.wait_for_url("**/publish/")
    assert "Section page: Sport" in page.locator("#content-main").inner_text()
    assert f"Added: Pin “{pinned.title}” at slot 1" in page.locator("#publish-changes").inner_text()
    page.fill("#publish-note", "Derby day")
    page.click("input[name=_publish]")
    page.wait_for_selector("text=it is live")
    reader_page = context.new_page()
    reader_page.goto("/section/Sport/")
    first = reader_page.locator("[data-newsrec-article]").first
    assert first.get_attribute("data-newsrec-article") == str(pinned.pk)
    reader_page.goto("/")
    home_first = reader_page.locator("[data-newsrec-article]").first
    assert home_first.get_attribute("data-newsrec-article") != str(pinned.pk)
    reader_page.goto("/section/Sport/")
    reader_page.screenshot(path=SCREENSHOTS / "editor-section-set.png", full_page=True)
    context.close()
