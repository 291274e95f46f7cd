"""Editors' analytics: the hourly roll-up (exact, idempotent, late events) and its admin page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from editorial import analytics
from editorial.models import (
    DWELL_BUCKET_EDGES,
    ArticleDayStats,
    ArticleHourStats,
    FacetDayStats,
    FacetHourStats,
    Rule,
    RuleSet,
    RuleSetStatus,
    RuleSetVersion,
)
from newsrec import simulation
from newsrec.models import Event, EventKind
from tests.factories import ReaderFactory, make_article, make_catalogue
from tests.integration.test_editorial_publish import make_user

pytestmark = pytest.mark.django_db

FIELDS = ("hour", "article_id", "surface", "slot", "section", "impressions", "clicks", "reads",
          "finishes", "hides", "dwell_seconds", "dwell_reads", "dwell_buckets")  # fmt: skip
FACETS = ("hour", "facet", "surface", "value", "impressions", "clicks", "reads", "finishes",
          "hides", "dwell_seconds", "dwell_reads", "dwell_buckets")  # fmt: skip


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (row[0], row[1], row[2], -1 if row[3] is None else row[3])


def _rows() -> list[tuple[Any, ...]]:
    return sorted(ArticleHourStats.objects.values_list(*FIELDS), key=_key)


def _facets() -> list[tuple[object, ...]]:
    return list(FacetHourStats.objects.order_by(*FACETS[:4]).values_list(*FACETS))


def _buckets(*dwells: float) -> list[int]:
    """The histogram the roll-up should store for these dwell times (one per reader)."""
    out = [0] * (len(DWELL_BUCKET_EDGES) + 1)
    for dwell in dwells:
        out[sum(1 for edge in DWELL_BUCKET_EDGES if dwell >= edge)] += 1
    return out


def test_rollup_counts_by_hand_and_running_it_twice_changes_nothing() -> None:
    a = make_article(title="A", section="Sport")
    b = make_article(title="B", section="Local")
    r1, r2, r3 = ReaderFactory.create(), ReaderFactory.create(), ReaderFactory.create()
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    at = hour + timedelta(minutes=10)
    later = at + timedelta(minutes=2)
    events = [
        # reader, kind, article, surface, slot, dwell, when
        *[(r1, "impression", a, "home", 1, None, at)] * 3,
        *[(r2, "impression", a, "home", 1, None, at)] * 2,
        (r1, "click", a, "home", 1, None, at),
        # r1's reading follows their click on slot 1 of home: it counts there
        (r1, "read", a, "article", None, None, later), (r1, "read", a, "article", None, None, later),
        (r1, "dwell", a, "article", None, 60.0, later), (r1, "dwell", a, "article", None, 90.0, later),
        (r1, "finish", a, "article", None, None, later),
        (r2, "dwell", a, "article", None, 30.0, later),  # no click: where it happened
        (r2, "hide", b, "home", None, None, at),
        (r3, "impression", b, "home", 2, None, at), (r3, "click", b, "home", 2, None, at),
        (r3, "dwell", b, "article", None, 400.0, later),
        # a click two hours before a read is too old to count the read on its slot
        (r3, "click", a, "home", 3, None, at - timedelta(hours=2)),
        (r3, "read", a, "article", None, None, later),
    ]  # fmt: skip
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"e{n}", kind=kind, article=article, surface=surface,
              feed_slot=slot, dwell_seconds=dwell, occurred_at=when)
        for n, (reader, kind, article, surface, slot, dwell, when) in enumerate(events)
    )  # fmt: skip
    assert analytics.analytics_rollup_recent() == 5
    before = hour - timedelta(hours=2)
    zero = _buckets()
    assert _rows() == sorted([
        (before, a.pk, "home", 3, "Sport", 0, 1, 0, 0, 0, 0.0, 0, zero),
        (hour, a.pk, "article", None, "Sport", 0, 0, 2, 0, 0, 30.0, 1, _buckets(30)),
        (hour, a.pk, "home", 1, "Sport", 5, 1, 1, 1, 0, 90.0, 1, _buckets(90)),
        (hour, b.pk, "home", 2, "Local", 1, 1, 1, 0, 0, 400.0, 1, _buckets(400)),
        (hour, b.pk, "home", None, "Local", 0, 0, 0, 0, 1, 0.0, 0, zero),
    ], key=_key)  # fmt: skip
    assert _facets() == sorted([
        (before, "section", "home", "Sport", 0, 1, 0, 0, 0, 0.0, 0, zero),
        (before, "slot", "home", "3", 0, 1, 0, 0, 0, 0.0, 0, zero),
        (hour, "section", "article", "Sport", 0, 0, 2, 0, 0, 30.0, 1, _buckets(30)),
        (hour, "section", "home", "Local", 1, 1, 1, 0, 1, 400.0, 1, _buckets(400)),
        (hour, "section", "home", "Sport", 5, 1, 1, 1, 0, 90.0, 1, _buckets(90)),
        (hour, "slot", "article", "", 0, 0, 2, 0, 0, 30.0, 1, _buckets(30)),
        (hour, "slot", "home", "", 0, 0, 0, 0, 1, 0.0, 0, zero),
        (hour, "slot", "home", "1", 5, 1, 1, 1, 0, 90.0, 1, _buckets(90)),
        (hour, "slot", "home", "2", 1, 1, 1, 0, 0, 400.0, 1, _buckets(400)),
    ])  # fmt: skip
    first, first_facets = _rows(), _facets()
    assert analytics.analytics_rollup_recent() == 5
    assert (_rows(), _facets()) == (first, first_facets)  # idempotent

    since = before
    [home] = analytics.analytics_by_surface(since=since, surface="home")
    assert (home.impressions, home.clicks, home.reads, home.hides) == (6, 3, 2, 1)
    assert home.ctr == 0.5
    [article_page] = analytics.analytics_by_surface(since=since, surface="article")
    assert (article_page.reads, article_page.completion, article_page.mean_dwell) == (2, 0, 30.0)
    slots = analytics.analytics_by_slot(since=since)
    assert [(f.key, f.impressions, f.clicks, f.reads) for f in slots] == [
        ("1", 5, 1, 1), ("2", 1, 1, 1), ("3", 0, 1, 0), ("(no slot)", 0, 0, 2),
    ]  # fmt: skip
    assert slots[0].completion == 1.0
    sections = analytics.analytics_by_section(since=since)
    assert [(f.key, f.impressions, f.clicks, f.reads, f.hides) for f in sections] == [
        ("Sport", 5, 2, 3, 0), ("Local", 1, 1, 1, 1),
    ]  # fmt: skip
    # Sport's dwell times: 30 s (bucket 30-45) and 90 s (90-120): the median falls at the top
    # of the first one's bucket
    assert sections[0].median_dwell == 45.0
    assert sections[1].median_dwell == 300 + 150 * 0.5  # one read of 400 s: mid-bucket 300-450
    series = analytics.analytics_series(since=since, step="hour")
    assert [p.figures.clicks for p in series] == [1, 0, 2, 0]
    assert series[2].at == hour


def test_dwell_median_reads_the_histogram() -> None:
    assert analytics.dwell_median([]) is None
    assert analytics.dwell_median(_buckets()) is None
    assert analytics.dwell_median(_buckets(7)) == 7.5  # one read in 5-10 s: mid-bucket
    # 3 of 4 in 0-5 s: the 2nd of 4 is 2/3 of the way into that bucket
    assert analytics.dwell_median(_buckets(1, 2, 3, 61)) == pytest.approx(10 / 3)
    assert analytics.dwell_median(_buckets(12, 12, 50, 50)) == 20.0  # halfway: top of 10-20
    assert analytics.dwell_median(_buckets(2000, 3000, 4000)) == 900.0  # the open last bucket


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


def _events(rows: list[tuple[Any, str, Any, int | None, Any]]) -> None:
    """(reader, kind, article, slot, when) on the home page."""
    start = Event.objects.count()
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"x{start + n}", kind=kind, article=article,
              surface="home", feed_slot=slot, occurred_at=when)
        for n, (reader, kind, article, slot, when) in enumerate(rows)
    )  # fmt: skip


def _shown(reader: Any, article: Any, slot: int, when: Any, *, seen: int, clicked: int) -> list:
    return [(reader, "impression", article, slot, when)] * seen + [
        (reader, "click", article, slot, when)
    ] * clicked


def test_did_my_rule_help_compares_equal_windows_and_a_pin_with_its_slot() -> None:
    pinned = make_article(title="Pinned story", section="Local")
    other = make_article(title="Other story", section="Sport")
    reader = ReaderFactory.create()
    now = timezone.now()
    published = now.replace(minute=30, second=0, microsecond=0) - timedelta(hours=10)
    before, after = published - timedelta(hours=3), published + timedelta(hours=3)
    _events([
        *_shown(reader, pinned, 1, before, seen=10, clicked=1),
        *_shown(reader, other, 1, before, seen=10, clicked=2),
        *_shown(reader, pinned, 1, after, seen=10, clicked=5),
        *_shown(reader, other, 1, after, seen=10, clicked=1),
        *_shown(reader, other, 1, published, seen=50, clicked=50),  # the publish's own hour
        *_shown(reader, other, 1, published - timedelta(hours=20), seen=9, clicked=9),  # too early
    ])  # fmt: skip
    analytics.analytics_rollup_recent(hours=48)
    rule_set = RuleSet.objects.create(name="Morning", status=RuleSetStatus.PUBLISHED)
    pin = {"kind": "pin", "target_field": "article", "target_value": str(pinned.pk), "slot": 1,
           "enabled": True}  # fmt: skip
    block = {"kind": "block", "target_field": "section", "target_value": "Sport", "enabled": True}
    version = RuleSetVersion.objects.create(
        rule_set=rule_set, number=1, rules=[pin, block], published_at=published, rules_version=7
    )
    impact = analytics.ruleset_impact(version=version, now=now)
    assert not impact.too_early
    assert impact.after_start - impact.before_end == timedelta(hours=1)
    assert impact.after_end - impact.after_start == impact.before_end - impact.before_start
    everything, pin_line, block_line = impact.lines
    assert (everything.before.impressions, everything.before.clicks) == (20, 3)
    assert (everything.after.impressions, everything.after.clicks) == (20, 6)
    assert pin_line.label == "Pin at a slot: “Pinned story” at slot 1"
    assert (pin_line.before.ctr, pin_line.after.ctr) == (0.1, 0.5)
    assert pin_line.slot_after is not None
    assert pin_line.slot_after.ctr == 0.1
    assert pin_line.pin_lift == pytest.approx(5.0)
    assert pin_line.ctr_change == pytest.approx(40.0)
    # 1 of 10 against 5 of 10: Wald's interval of the change, 40 +- 1.96 * 18.44 points
    low, high = pin_line.ctr_change_interval or (0.0, 0.0)
    assert (low, high) == (pytest.approx(3.9, abs=0.05), pytest.approx(76.1, abs=0.05))
    assert pin_line.ctr_change_clear
    assert not everything.ctr_change_clear  # 3 of 20 against 6 of 20 could be chance
    assert (block_line.before.clicks, block_line.after.clicks) == (2, 1)  # Sport's

    client = Client()
    client.force_login(make_user("editor", "Editor"))
    change = client.get(f"/admin/editorial/ruleset/{rule_set.pk}/change/").content.decode()
    assert f'href="/admin/editorial/articlehourstats/impact/{rule_set.pk}/"' in change
    page = client.get(f"/admin/editorial/articlehourstats/impact/{rule_set.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="impact-table"' in html
    assert "40.0 points" in html
    assert "(95 % interval 3.9 to 76.1: a clear change)" in html
    assert "could be chance" in html
    assert "\u00d75.00" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "v1 published" in html
    exported = client.get(f"/admin/editorial/articlehourstats/impact/{rule_set.pk}/?format=csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    pin_after = next(r for r in rows if r["line"] == pin_line.label and r["period"] == "after")
    assert (pin_after["ctr"], pin_after["slot_others_ctr"]) == ("0.5000", "0.1000")
    # a version that does not exist shows the latest, said so; an unpublished set says so
    assert (
        "No such version"
        in client.get(
            f"/admin/editorial/articlehourstats/impact/{rule_set.pk}/?version=9"
        ).content.decode()
    )
    draft = RuleSet.objects.create(name="Draft")
    html = client.get(f"/admin/editorial/articlehourstats/impact/{draft.pk}/").content.decode()
    assert 'id="impact-unpublished"' in html
    assert client.get("/admin/editorial/articlehourstats/impact/99999/").status_code == 404


def test_a_publish_within_the_hour_is_too_early_to_tell() -> None:
    rule_set = RuleSet.objects.create(name="Just now", status=RuleSetStatus.PUBLISHED)
    version = RuleSetVersion.objects.create(rule_set=rule_set, number=1, rules=[])
    impact = analytics.ruleset_impact(version=version)
    assert impact.too_early
    assert impact.lines == []


def test_the_page_has_charts_tables_per_slot_section_and_live_rule_and_csv_of_each() -> None:
    article = make_article(title="Harbour bridge reopens", section="Local")
    reader = ReaderFactory.create()
    now = timezone.now()
    _events(_shown(reader, article, 2, now - timedelta(hours=2), seen=4, clicked=1))
    analytics.analytics_rollup_recent()
    rule_set = RuleSet.objects.create(name="Live", status=RuleSetStatus.PUBLISHED, is_live=True)
    Rule.objects.create(rule_set=rule_set, kind="boost", target_field="section",
                        target_value="Local", factor=2.0)  # fmt: skip
    Rule.objects.create(rule_set=rule_set, kind="pin", target_field="article",
                        target_value=str(article.pk), slot=2)  # fmt: skip
    RuleSetVersion.objects.create(
        rule_set=rule_set, number=1, rules=[], published_at=now - timedelta(hours=1),
        rules_version=3,
    )  # fmt: skip
    client = Client()
    client.force_login(make_user("editor", "Editor"))
    html = client.get("/admin/editorial/articlehourstats/?days=1").content.decode()
    for table in ("series", "surfaces", "slots", "sections", "rules", "articles"):
        assert f'id="analytics-{table}"' in html, table
    assert html.count('role="img"') == 3  # counts, rates and the slot bars
    assert '<title id="analytics-series-counts-title">' in html
    assert "Live v1 (rules v3)" in html  # the publish marked on the time axis
    assert '<th scope="row">2</th><td>4</td><td>1</td><td>25.0 %</td>' in html  # slot 2
    assert '<th scope="row">Boost or bury: section Local x2</th><td>4</td>' in html
    assert "<td>Live</td>" not in html  # the rule set's name links to "did it help?"

    def csv_rows(table: str) -> list[dict[str, str]]:
        answer = client.get(f"/admin/editorial/articlehourstats/?days=1&format=csv&table={table}")
        assert answer["Content-Type"].startswith("text/csv")
        assert f"analytics-{table}-1d.csv" in answer["Content-Disposition"]
        return list(csv.DictReader(io.StringIO(answer.content.decode())))

    assert [(r["slot"], r["impressions"], r["ctr"]) for r in csv_rows("slots")] == [
        ("2", "4", "0.2500")
    ]
    assert [(r["section"], r["clicks"]) for r in csv_rows("sections")] == [("Local", "1")]
    assert [(r["surface"], r["clicks"]) for r in csv_rows("surfaces")] == [("home", "1")]
    rules = csv_rows("rules")
    assert [(r["kind"], r["impressions"], r["clicks"]) for r in rules] == [
        ("boost", "4", "1"), ("pin", "4", "1"),
    ]  # fmt: skip
    assert rules[1]["slot_others_ctr"] == ""  # nothing else was shown at slot 2
    series = csv_rows("series")
    assert len(series) in (24, 25)
    assert sum(int(r["clicks"]) for r in series) == 1
    # an unknown table or period falls back to the defaults, never a 500
    fallback = client.get("/admin/editorial/articlehourstats/?days=x&format=csv&table=nope")
    assert fallback.status_code == 200
    assert fallback.content.decode().startswith("article_id,title,")


def test_long_periods_read_day_rows_that_sum_the_hours_exactly() -> None:
    articles = [make_article(section=s) for s in ("Local", "Sport", "Local")]
    reader = ReaderFactory.create()
    now = timezone.now()
    rows = []
    for n in range(60):  # every 1.4 hours back over 3.5 days, on two slots
        when = now - timedelta(hours=1.4 * n + 0.2)
        rows += _shown(reader, articles[n % 3], 1 + n % 2, when, seen=1 + n % 4, clicked=n % 2)
    _events(rows)
    analytics.analytics_rollup_recent(hours=24 * 5)
    day_fields = ("hour", "article_id", "surface", "impressions", "clicks", "dwell_buckets")

    def day_rows() -> list[tuple[Any, ...]]:
        return list(ArticleDayStats.objects.order_by(*day_fields[:3]).values_list(*day_fields))

    first = day_rows()
    assert len({row[0] for row in first}) >= 4  # four or five UTC days
    analytics.analytics_rollup_recent(hours=24 * 5)
    assert day_rows() == first  # idempotent
    since = now - timedelta(days=4)
    # the hours to the first midnight, then whole days up to today's, rewritten with the hours
    assert [days for days, _, _ in analytics.figures.spans(since, None)] == [False, True]
    by_hours = {
        (f["value"]): (f["impressions"], f["clicks"])
        for f in FacetHourStats.objects.filter(facet="section", hour__gte=since.replace(
            minute=0, second=0, microsecond=0)).values("value").annotate(
                impressions=Sum("impressions"), clicks=Sum("clicks")).order_by()
    }  # fmt: skip
    sections = analytics.analytics_by_section(since=since)
    assert {f.key: (f.impressions, f.clicks) for f in sections} == by_hours
    assert sum(f.impressions for f in analytics.analytics_by_article(since=since)) == sum(
        v[0] for v in by_hours.values()
    )
    days = analytics.analytics_series(since=since, step="day")
    assert sum(p.figures.clicks for p in days) == sum(v[1] for v in by_hours.values())
    assert FacetDayStats.objects.filter(facet="slot").exists()


def test_the_rollup_command_rebuilds_the_days_asked_and_refuses_a_bad_count() -> None:
    article = make_article(section="Local")
    reader = ReaderFactory.create()
    _events(_shown(reader, article, 1, timezone.now() - timedelta(days=2), seen=3, clicked=1))
    out = io.StringIO()
    call_command("editorial_analytics_rollup", days=1, stdout=out, stderr=io.StringIO())
    assert not ArticleHourStats.objects.exists()  # two days back: not in the last day
    call_command("editorial_analytics_rollup", days=3, stdout=out, stderr=io.StringIO())
    assert ArticleHourStats.objects.get().impressions == 3
    assert "1 hourly article rows over the last 3 days" in out.getvalue()
    with pytest.raises(CommandError, match="--days must be between 1 and 3660"):
        call_command("editorial_analytics_rollup", days=0)


@pytest.mark.django_db(transaction=True)
def test_a_second_rollup_waits_for_the_first_instead_of_clashing() -> None:
    import threading

    import psycopg
    from django.db import connection, connections

    from editorial.analytics.rollup import LOCK_KEY

    article = make_article()
    _events(_shown(ReaderFactory.create(), article, 1, timezone.now(), seen=2, clicked=0))
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"], port=settings["PORT"] or None, autocommit=True,
    )  # fmt: skip
    written: list[int] = []

    def rollup() -> None:
        try:
            written.append(analytics.analytics_rollup_recent())
        finally:
            connections.close_all()

    try:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])  # a roll-up is running
        thread = threading.Thread(target=rollup)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for it
        other.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        thread.join(timeout=30)
    finally:
        other.close()
    assert written == [1]
    assert ArticleHourStats.objects.get().impressions == 2
