"""Editors' analytics: the hourly roll-up (exact, idempotent, late events) and its admin page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from editorial import analytics
from editorial.models import ArticleHourStats
from newsrec import simulation
from newsrec.models import Event, EventKind
from tests.factories import ReaderFactory, make_article, make_catalogue
from tests.integration.test_editorial_publish import make_user

pytestmark = pytest.mark.django_db

FIELDS = ("hour", "article_id", "surface", "impressions", "clicks", "reads", "finishes", "hides",
          "dwell_seconds", "dwell_reads")  # fmt: skip


def _rows() -> list[tuple[object, ...]]:
    return list(ArticleHourStats.objects.order_by(*FIELDS).values_list(*FIELDS))


def test_rollup_counts_by_hand_and_running_it_twice_changes_nothing() -> None:
    a, b = make_article(title="A"), make_article(title="B")
    r1, r2 = ReaderFactory.create(), ReaderFactory.create()
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    at = hour + timedelta(minutes=10)
    events = [
        # reader, kind, article, surface, dwell
        *[(r1, "impression", a, "home", None)] * 3, *[(r2, "impression", a, "home", None)] * 2,
        (r1, "click", a, "home", None),
        (r1, "read", a, "article", None), (r1, "read", a, "article", None),  # one read, twice
        (r1, "dwell", a, "article", 60.0), (r1, "dwell", a, "article", 90.0),  # longest counts
        (r1, "finish", a, "article", None),
        (r2, "dwell", a, "article", 30.0),
        (r2, "hide", b, "home", None),
    ]  # fmt: skip
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"e{n}", kind=kind, article=article, surface=surface,
              dwell_seconds=dwell, occurred_at=at)
        for n, (reader, kind, article, surface, dwell) in enumerate(events)
    )  # fmt: skip
    assert analytics.analytics_rollup_recent() == 3
    assert _rows() == sorted([
        (hour, a.pk, "article", 0, 0, 2, 1, 0, 120.0, 2),
        (hour, a.pk, "home", 5, 1, 0, 0, 0, 0.0, 0),
        (hour, b.pk, "home", 0, 0, 0, 0, 1, 0.0, 0),
    ])  # fmt: skip
    first = _rows()
    assert analytics.analytics_rollup_recent() == 3
    assert _rows() == first  # idempotent

    [home] = analytics.analytics_by_surface(since=hour, surface="home")
    assert (home.impressions, home.clicks, home.ctr, home.hides) == (5, 1, 0.2, 1)
    [article_page] = analytics.analytics_by_surface(since=hour, surface="article")
    assert (article_page.reads, article_page.completion, article_page.mean_dwell) == (2, 0.5, 60.0)


def test_late_and_purged_events_are_reflected_by_the_window_rollup() -> None:
    article = make_article()
    reader = ReaderFactory.create()
    old = timezone.now() - timedelta(days=3)
    analytics.analytics_rollup_recent()
    Event.objects.create(reader=reader, event_id="late", kind=EventKind.IMPRESSION,
                         article=article, surface="home", occurred_at=old)  # fmt: skip
    analytics.analytics_rollup_recent()
    assert not ArticleHourStats.objects.exists()  # three days back: not in the frequent window
    analytics.analytics_rollup_recent(hours=24 * 7 + 1)
    assert ArticleHourStats.objects.get().impressions == 1
    Event.objects.all().delete()  # e.g. the reader was erased
    analytics.analytics_rollup_recent(hours=24 * 7 + 1)
    assert not ArticleHourStats.objects.exists()


def test_simulated_events_roll_up_exactly() -> None:
    make_catalogue(["Local", "Sport", "Culture"], 30, with_authors=True)
    report = simulation.simulation_run(readers=12, days=2, seed=5)
    analytics.analytics_rollup_recent(hours=24 * 2 + 1)
    totals = analytics.analytics_by_surface(since=timezone.now() - timedelta(days=3))
    assert sum(f.impressions for f in totals) == report.kinds[EventKind.IMPRESSION]
    assert sum(f.clicks for f in totals) == report.kinds[EventKind.CLICK]
    assert sum(f.hides for f in totals) == report.kinds[EventKind.HIDE]


def test_the_analytics_page_shows_tables_and_exports_csv() -> None:
    article = make_article(title="Harbour bridge reopens")
    reader = ReaderFactory.create()
    now = timezone.now()
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"e{n}", kind=kind, article=article, surface="home",
              occurred_at=now - timedelta(minutes=5))
        for n, kind in enumerate(["impression"] * 4 + ["click"])
    )  # fmt: skip
    analytics.analytics_rollup_recent()
    client = Client()
    client.force_login(make_user("editor", "Editor"))
    page = client.get("/admin/editorial/articlehourstats/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="analytics-surfaces"' in html
    assert "<td>Harbour bridge reopens</td><td>4</td><td>1</td><td>25.0 %</td>" in html
    assert '<script src="http' not in html  # nothing from a CDN
    exported = client.get("/admin/editorial/articlehourstats/?days=1&format=csv")
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][:5] == ["article_id", "title", "impressions", "clicks", "ctr"]
    assert rows[1][:5] == [str(article.pk), "Harbour bridge reopens", "4", "1", "0.2500"]
    assert Client().get("/admin/editorial/articlehourstats/").status_code == 302  # login first
