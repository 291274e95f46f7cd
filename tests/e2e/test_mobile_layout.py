"""The reader site laid out for reading on a phone (390 x 844): measured, with screenshots (#17.9).

The whole demo catalogue's sections (fourteen) and a reader with history, so the page is as long
and the section menu as wide as on the demo site.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from demo.content import rows as demo_rows
from newsrec import feeds, profiles, selectors, services
from newsrec.models import Article, Reader

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
PER_SECTION = 4  # the section blocks show three, a fourth feeds the reader's history
MAX_AGE_HOURS = 300  # inside the feeds' 14-day pool

BOX = """sel => { const e = document.querySelector(sel); if (!e) return null;
  const r = e.getBoundingClientRect();
  return {top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left, right: r.right}; }"""


@pytest.fixture
def full_demo_site(transactional_db: None, django_db_reset_sequences: None) -> list[Article]:
    """Every demo section, a few fresh articles each, embedded by the real model."""
    raw = demo_rows.read_demo_file(demo_rows.DEMO_ARTICLES)
    chosen: dict[str, list[dict[str, Any]]] = {}
    for row in raw:
        fresh = (
            row.get("status", "published") == "published"
            and row.get("embargo_in_hours") is None
            and (row.get("published_ago_hours") or MAX_AGE_HOURS) < MAX_AGE_HOURS
        )
        if fresh and len(chosen.setdefault(row["section"], [])) < PER_SECTION:
            chosen[row["section"]].append(row)
    rows = [row for group in chosen.values() for row in group]
    rows = demo_rows.dated_rows(rows, anchor=demo_rows.fresh_anchor(timezone.now()))
    with transaction.atomic():
        report = services.article_upsert_many(rows=rows)
        assert not report.rejected, report.rejected
        ids = list(Article.objects.order_by("pk").values_list("pk", flat=True))
        assert services.articles_embed(article_ids=ids)["embedded"] == len(ids)
    feeds.pool_cache_clear()
    selectors.shared_reads_clear()  # Trending and the section blocks of an earlier test
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    return list(Article.objects.order_by("pk"))


@pytest.fixture
def phone(browser: Any, live_server: Any) -> Any:
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, device_scale_factor=1, is_mobile=True,
        has_touch=True,
    )  # fmt: skip
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _become_a_reader_with_history(page: Any, articles: list[Article]) -> None:
    """Finished stories in a few sections ("For you" and three "Because you read" rails), and
    clicks that make a Trending list."""
    now = timezone.now().isoformat()
    events = [
        {"event_id": f"f{a.pk}", "kind": "finish", "article_id": a.pk, "occurred_at": now}
        for a in articles[::PER_SECTION][:4]
    ] + [
        {"event_id": f"c{a.pk}", "kind": "click", "article_id": a.pk, "occurred_at": now}
        for a in articles[1::PER_SECTION]
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


def test_the_home_page_on_a_phone_is_short_with_trending_high_and_a_menu_that_says_it_scrolls(
    full_demo_site: list[Article], phone: Any, tmp_path: Any
) -> None:
    _become_a_reader_with_history(phone, full_demo_site)
    phone.goto("/")
    assert phone.locator("#for-you-heading").inner_text() == "For you"
    assert phone.locator("section.rail-byr").count() == 3
    assert phone.locator("section.trending li.card").count() == 5
    height = phone.evaluate("document.documentElement.scrollHeight")
    for_you = phone.evaluate(BOX, "#for-you-heading")
    trending = phone.evaluate(BOX, "#trending-heading")
    first_rail = phone.evaluate(BOX, "#byr-1")
    menu = phone.evaluate(
        """() => { const ul = document.querySelector('.sections ul');
          const after = getComputedStyle(ul.parentElement, '::after');
          return {scroll: ul.scrollWidth, client: ul.clientWidth, fade: after.backgroundImage,
                  fadeWidth: parseFloat(after.width) || 0, links: ul.querySelectorAll('a').length};
        }"""
    )
    phone.screenshot(path=tmp_path / "home-390-top.png")
    phone.screenshot(path=tmp_path / "home-390-full.png", full_page=True)
    print(f"home at 390 px: {height} px tall, menu {menu}")
    print(f"For you {for_you}, Trending {trending}, rail {first_rail}")
    print("screenshots:", tmp_path)
    # No sideways scrolling of the page; the menu scrolls by itself, and shows that it does.
    assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert menu["links"] == 15  # "Front page" and the fourteen sections
    assert menu["scroll"] > menu["client"]
    assert "gradient" in menu["fade"]
    assert menu["fadeWidth"] >= 24
    # Scrolled to its end, the last section is clear of the fade.
    phone.evaluate("document.querySelector('.sections ul').scrollLeft = 1e6")
    last = phone.evaluate(BOX, ".sections li:last-child a")
    assert last["right"] <= PHONE["width"] - menu["fadeWidth"]
    phone.evaluate("document.querySelector('.sections ul').scrollLeft = 0")
    # Trending right after the first screenful of "For you", before the rails.
    assert for_you["top"] < trending["top"] < first_rail["top"]
    assert trending["top"] < 2 * PHONE["height"]
    # A page a reader gets to the end of (it was 12,300 px on the demo site).
    assert height < 6500


def test_the_article_page_on_a_phone_shows_related_before_continue_reading(
    full_demo_site: list[Article], phone: Any, tmp_path: Any
) -> None:
    phone.goto(f"/articles/{full_demo_site[0].pk}/")
    related = phone.evaluate(BOX, "#related-heading")
    more = phone.evaluate(BOX, "#more-heading")
    continue_reading = phone.evaluate(BOX, "#continue-heading")
    body = phone.evaluate(BOX, ".article__body")
    phone.screenshot(path=tmp_path / "article-390-full.png", full_page=True)
    print(f"article at 390 px: body {body}, related {related}, more {more}, "
          f"continue {continue_reading}")  # fmt: skip
    assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert body["bottom"] < related["top"] < continue_reading["top"]
    assert more is None or related["top"] < more["top"]
