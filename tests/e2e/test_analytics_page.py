"""#15.2 in a real browser: an editor opens the analytics page, sees the charts (drawn on the
server, named for screen readers) and the tables, and downloads a table as CSV; the beacon
sends a related story's click with the related list's surface."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from editorial import analytics
from editorial.models import RuleSet, RuleSetStatus, RuleSetVersion
from newsrec.models import Article, Event, EventKind
from tests.conftest import wait_for
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import ReaderFactory, make_article
from tests.integration.test_editorial_publish import make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "analytics-editor-password"


def test_an_editor_sees_the_charts_and_tables_and_downloads_csv(
    context: Any, tmp_path: Path
) -> None:
    article = make_article(title="Harbour bridge reopens", section="Local")
    reader = ReaderFactory.create()
    now = timezone.now()
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"e{n}", kind=kind, article=article, surface="home",
              feed_slot=1, occurred_at=now - timedelta(hours=2))
        for n, kind in enumerate(["impression"] * 8 + ["click"] * 2)
    )  # fmt: skip
    analytics.analytics_rollup_recent()
    rule_set = RuleSet.objects.create(name="Morning", status=RuleSetStatus.PUBLISHED)
    RuleSetVersion.objects.create(
        rule_set=rule_set, number=1, rules=[], published_at=now - timedelta(hours=5),
        rules_version=4,
    )  # fmt: skip
    editor = make_user("analyst", "Editor")
    editor.set_password(PASSWORD)
    editor.save()

    page = context.new_page()
    page.goto("/admin/login/?next=/admin/editorial/articlehourstats/%3Fdays%3D1")
    page.fill("#id_username", "analyst")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/editorial/articlehourstats/**")

    counts = page.get_by_role("img", name="All surfaces, last 24 hours: impressions, clicks")
    assert counts.is_visible()
    assert page.locator("#analytics-series-counts .analytics-legend").count() == 4  # + publish
    assert page.locator("#analytics-series-counts .analytics-mark").count() == 1
    assert "Morning v1 (rules v4)" in page.locator("#analytics-series-counts").inner_html()
    assert page.get_by_role("img", name="CTR per slot").is_visible()
    slots = page.locator("#analytics-slots tbody tr").first.inner_text().split("\t")
    assert slots[:4] == ["1", "8", "2", "25.0 %"]
    articles = page.locator("#analytics-articles").inner_text()
    assert "Harbour bridge reopens" in articles
    page.get_by_text("The numbers of these charts as a table").click()  # the table fallback
    assert page.locator("#analytics-series").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "editor-analytics.png", full_page=True)

    with page.expect_download() as info:
        page.click("#analytics-csv-slots")
    download = info.value
    assert download.suggested_filename == "analytics-slots-1d.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert [(r["slot"], r["impressions"], r["clicks"], r["ctr"]) for r in rows] == [
        ("1", "8", "2", "0.2500")
    ]


def test_a_click_in_the_related_list_counts_on_the_related_surface(
    demo_site: list[Article], page: Any
) -> None:
    page.goto(f"/articles/{demo_site[0].pk}/")
    related = page.locator('[data-newsrec-surface="related"] [data-newsrec-article]').first
    article_id = int(related.get_attribute("data-newsrec-article"))
    page.wait_for_timeout(1500)  # an impression counts after a second in view
    related.locator("a").first.click()
    page.wait_for_url(f"**/articles/{article_id}/")

    def recorded() -> bool:
        return Event.objects.filter(kind=EventKind.CLICK, article_id=article_id).exists()

    assert wait_for(recorded, timeout=20)
    click = Event.objects.get(kind=EventKind.CLICK, article_id=article_id)
    assert (click.surface, click.feed_slot) == ("related", 1)  # not the page's "article"
