"""What editors set is what readers see, in a real browser (#12 items 1-3, 12 and 15)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.signing import get_cookie_signer
from django.utils import timezone

from editorial import services
from editorial.compiler import live_rules_memo_clear
from editorial.models import Rule, RuleSet
from newsrec import feeds, readers, selectors
from newsrec.models import Article
from tests.conftest import wait_for
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_editor_room import log_in, staff
from tests.integration.test_rule_contract import stored_feed

pytestmark = pytest.mark.e2e


def publish(name: str, *rows: dict[str, Any], **fields: Any) -> RuleSet:
    rule_set = RuleSet.objects.create(name=name, **fields)
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set)
    settle()
    return rule_set


def settle() -> None:
    """What a commit does for other processes: forget memoised rules and blocks, rebuild."""
    live_rules_memo_clear()
    selectors.shared_reads_clear()
    feeds.feeds_rebuild(reader_ids=[], include_default=True)


def reload_until(page: Any, path: str, check: Any, timeout: float = 30) -> bool:
    """Rebuild and reload until ``check(page)``: a worker left by an earlier browser test may
    still be rebuilding the feed the publish queued, with what it had cached."""

    def attempt() -> bool:
        settle()
        page.goto(path)
        return bool(check(page))

    return wait_for(attempt, timeout=timeout)


def shown(page: Any, selector: str) -> list[int]:
    cards = page.locator(f"{selector} [data-newsrec-article]")
    return [int(cards.nth(i).get_attribute("data-newsrec-article")) for i in range(cards.count())]


def grid(page: Any) -> list[int]:
    return shown(page, "section[aria-labelledby=for-you-heading]")


def test_the_front_page_grid_keeps_a_section_cap_next_to_the_rails(
    demo_site: list[Article], browser: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stored feed below is made by hand: no fan-out (a worker left by an earlier browser
    # test would run it) may rebuild it meanwhile.
    monkeypatch.setattr(services, "rules_fanout_enqueue", lambda: None)
    publish("Default", {"kind": "cap", "target_field": "section", "max_per_value": 2,
                        "top_k": 8})  # fmt: skip
    by_section: dict[str, list[Article]] = {}
    for article in demo_site:
        by_section.setdefault(article.section, []).append(article)
    seed = by_section["Local"][-1]
    head = [*by_section["Local"][:2], *by_section["Sport"][:2], *by_section["Culture"][:2],
            *by_section["Science"][:2]]  # fmt: skip
    tail = [*by_section["Science"][2:6], *by_section["Sport"][2:5], *by_section["Culture"][2:5],
            *by_section["Local"][2:5]]  # fmt: skip
    reader, token = readers.reader_for_cookie(token=None, create=True)
    assert reader is not None
    assert token is not None
    stored_feed(reader, head + tail, byr={0: seed, 1: seed, 2: seed, 3: seed})
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    salt = readers.COOKIE_NAME + readers.COOKIE_SALT
    context.add_cookies([{"name": readers.COOKIE_NAME, "url": live_server.url,
                          "value": get_cookie_signer(salt=salt).sign(token)}])  # fmt: skip
    page = context.new_page()
    page.goto("/")
    assert page.locator(".rail-byr").count() >= 1
    sections = {a.pk: a.section for a in demo_site}
    top = Counter(sections[pk] for pk in grid(page)[:8])
    assert max(top.values()) <= 2, top
    page.screenshot(path=SCREENSHOTS / "reader-capped-grid.png", full_page=True)
    context.close()


def test_a_site_wide_pin_stays_on_the_front_page_and_off_section_pages(
    demo_site: list[Article], page: Any
) -> None:
    pinned = next(a for a in reversed(demo_site) if a.section == "Culture")
    publish("Default", {"kind": "pin", "target_field": "article",
                        "target_value": str(pinned.pk), "slot": 1})  # fmt: skip
    assert reload_until(page, "/", lambda p: grid(p)[0] == pinned.pk)
    page.goto("/section/Sport/")
    sport = shown(page, "main")
    assert sport
    assert pinned.pk not in sport
    assert {a.section for a in demo_site if a.pk in sport} == {"Sport"}


def test_a_scheduled_set_keeps_the_standing_rules_and_can_be_undone_in_one_step(
    demo_site: list[Article], browser: Any, live_server: Any
) -> None:
    senior = staff("senior", "Senior editor")
    culture = [a for a in demo_site if a.section == "Culture"]
    publish("Default", {"kind": "block", "target_field": "section", "target_value": "Culture"})
    pinned = next(a for a in reversed(demo_site) if a.section == "Science")
    now = timezone.now()
    night = RuleSet.objects.create(
        name="Election night",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=6),
    )
    Rule.objects.create(rule_set=night, kind="pin", target_field="article",
                        target_value=str(pinned.pk), slot=1)  # fmt: skip
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = log_in(context, senior)
    page.goto(f"/admin/editorial/ruleset/{night.pk}/publish/")
    assert "added on top of the standing set" in page.locator("#content-main").inner_text()
    page.click("input[name=_publish]")
    page.wait_for_selector("text=it is live")
    reader = context.new_page()
    assert reload_until(reader, "/", lambda p: grid(p)[0] == pinned.pk)  # the set's pin...
    assert not {a.pk for a in culture} & set(shown(reader, "main"))  # ...and the standing block

    # One step back: the standing set alone, then no rules at all.
    page.goto("/admin/editorial/ruleset/dashboard/")
    page.get_by_role("button", name="Switch site-wide rules off").click()
    page.wait_for_selector("text=Rules are off")
    page.screenshot(path=SCREENSHOTS / "editor-rules-off.png", full_page=True)
    culture_ids = {a.pk for a in culture}
    assert reload_until(reader, "/", lambda p: culture_ids & set(shown(p, "main")))
    context.close()


def test_a_blocked_section_is_gone_from_latest_blocks_and_more_from(
    demo_site: list[Article], page: Any
) -> None:
    blocked = [a for a in demo_site if a.section == "Sport"]
    publish("Default", {"kind": "block", "target_field": "article",
                        "target_value": str(blocked[1].pk)})  # fmt: skip
    page.goto("/")
    assert blocked[1].pk not in shown(page, "main")
    page.goto(f"/articles/{blocked[0].pk}/")
    side = shown(page, "aside")  # "Related" and "More from Sport"
    assert {a.pk for a in blocked} & set(side)  # Sport stories are there...
    assert blocked[1].pk not in shown(page, "main")  # ...but not the blocked one
