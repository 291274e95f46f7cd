"""The product checks itself: ``newsrec_check_feeds`` reads what readers see and names the rule
an article breaks; random rule sets leave it nothing to report (#12, compliance)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editorial import services
from editorial.compiler import live_rules, live_rules_memo_clear
from editorial.compliance import feeds_check
from editorial.models import Rule, RuleSet
from newsrec import feeds, readers, selectors
from newsrec.models import Article, Event, EventKind, Feed
from tests.factories import make_catalogue

pytestmark = pytest.mark.django_db

SECTIONS = ["Politics", "Science", "Sport", "Culture", "Travel", "Food"]


def publish(name: str, *rows: dict[str, Any], scope: str = "site", value: str = "") -> RuleSet:
    rule_set = RuleSet.objects.create(name=name, scope=scope, scope_value=value)
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set)
    live_rules_memo_clear()
    selectors.shared_reads_clear()
    return rule_set


def site_with_readers(catalogue: list[Article]) -> None:
    """Two cookie readers with history and stored feeds, and the default feed."""
    for n in range(2):
        reader, _token = readers.reader_for_cookie(token=None, create=True)
        assert reader is not None
        for k, article in enumerate(catalogue[n : n + 12 : 3]):
            Event.objects.create(
                reader=reader, event_id=f"f{n}-{k}", kind=EventKind.FINISH, article=article,
                occurred_at=timezone.now() - timedelta(minutes=k), read_depth=1.0,
            )  # fmt: skip
        reader.last_seen = timezone.now()
        reader.save(update_fields=["last_seen"])
    feeds.feeds_rebuild(reader_ids=list(readers_ids()), include_default=True)


def readers_ids() -> list[int]:
    from newsrec.models import Reader

    return list(Reader.objects.values_list("pk", flat=True))


def test_a_stored_feed_that_breaks_a_block_is_named_with_its_rule_and_exits_1() -> None:
    catalogue = make_catalogue(SECTIONS, 36)
    site_with_readers(catalogue)
    rule_set = publish("Default", {"kind": "block", "target_field": "section",
                                   "target_value": "Sport"})  # fmt: skip
    # A feed stored under the live rules that still holds a Sport story: a rebuild bug.
    sport = next(a for a in catalogue if a.section == "Sport")
    feed = Feed.objects.get(key=feeds.DEFAULT_FEED_KEY)
    others = [i for i in feed.items if i["section"] != "Sport"]
    feed.items = [{**others[0], "article_id": sport.pk, "section": "Sport"}, *others[1:]]
    feed.rules_version = live_rules().version
    feed.save()

    report = feeds_check(sample=5, sections=3)
    assert [v.article_id for v in report.violations] == [sport.pk], [
        str(v) for v in report.violations
    ]
    assert "Blocklist section=Sport" in report.violations[0].rule
    assert f"“{rule_set}”" in report.violations[0].rule
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("newsrec_check_feeds", "--sample", "2", stdout=out)
    assert exited.value.code == 1
    assert "breaks Blocklist section=Sport" in out.getvalue()


def test_a_page_that_shows_a_blocked_story_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the read path to forget the hard filters on a feed built before a block, the
    checker would see the blocked story on the pages (as on the code before #12)."""
    catalogue = make_catalogue(SECTIONS, 36)
    site_with_readers(catalogue)  # built before the block: stale until the fan-out
    publish("Default", {"kind": "block", "target_field": "section", "target_value": "Science"})
    assert feeds_check(sample=5, sections=3).ok
    monkeypatch.setattr(feeds.read, "hard_filtered", lambda items, *a, **k: items)
    report = feeds_check(sample=5, sections=3)
    surfaces = {v.surface for v in report.violations}
    assert "home: For you" in surfaces
    assert "API feeds/me" in surfaces
    assert all("Blocklist section=Science" in v.rule for v in report.violations)


def test_the_command_passes_on_a_compliant_site() -> None:
    site_with_readers(make_catalogue(SECTIONS, 36))
    publish("Default", {"kind": "cap", "target_field": "section", "max_per_value": 2,
                        "top_k": 10})  # fmt: skip
    out = StringIO()
    call_command("newsrec_check_feeds", "--sample", "3", stdout=out)
    assert "0 violations" in out.getvalue()


# --- Random rule sets: nothing to report ----------------------------------------------------------

target = st.one_of(
    st.tuples(st.just("section"), st.sampled_from([*SECTIONS, "Sciense"])),
    st.tuples(st.just("tag"), st.sampled_from(["t0", "t1", "t2"])),
)
window = st.sampled_from(["none", "past", "now", "future"])


def _window(kind: str) -> dict[str, Any]:
    now = timezone.now()
    return {
        "none": {},
        "past": {"valid_from": now - timedelta(days=9), "valid_until": now - timedelta(days=8)},
        "now": {"valid_from": now - timedelta(hours=1), "valid_until": now + timedelta(hours=1)},
        "future": {"valid_from": now + timedelta(hours=1)},
    }[kind]


def _block(t: tuple[str, str], w: str) -> dict[str, Any]:
    return {"kind": "block", "target_field": t[0], "target_value": t[1], **_window(w)}


def _boost(t: tuple[str, str], factor: float, w: str) -> dict[str, Any]:
    return {"kind": "boost", "target_field": t[0], "target_value": t[1], "factor": factor,
            **_window(w)}  # fmt: skip


def _cap(most: int) -> dict[str, Any]:
    return {"kind": "cap", "target_field": "section", "max_per_value": most, "top_k": 10}


def _pin(position: int, slot: int) -> dict[str, Any]:
    return {"kind": "pin", "target_field": "article", "target_value": position, "slot": slot}


rule_rows = st.lists(
    st.one_of(
        st.builds(_block, target, window),
        st.builds(_boost, target, st.sampled_from([0.3, 3.0]), window),
        st.builds(lambda h: {"kind": "max_age", "hours": h}, st.sampled_from([6.0, 20.0, 200.0])),
        st.builds(_cap, st.sampled_from([2, 3])),
        st.builds(_pin, st.integers(0, 35), st.integers(1, 4)),
    ),
    max_size=5,
)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(site=rule_rows, section=rule_rows, rebuilt=st.booleans())
def test_random_rule_sets_leave_nothing_to_report(
    django_db_blocker: Any, site: list[dict[str, Any]], section: list[dict[str, Any]],
    rebuilt: bool,
) -> None:  # fmt: skip
    from django.db import transaction

    with transaction.atomic():
        catalogue = make_catalogue(SECTIONS, 36, hours_apart=0.8)
        for n, article in enumerate(catalogue):
            article.tags = [f"t{n % 3}"]
            article.save(update_fields=["tags"])
        site_with_readers(catalogue)
        ids = [a.pk for a in catalogue]

        def rows(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
            fixed = []
            for row in rules:
                if row["kind"] == "pin":
                    row = {**row, "target_value": str(ids[row["target_value"]])}
                fixed.append(row)
            return fixed

        try:
            publish("Site", *rows(site))
            publish("Politics desk", *rows(section), scope="section", value="Politics")
        except Exception as exc:
            if type(exc).__name__ != "ValidationError":
                raise
        if rebuilt:
            feeds.feeds_rebuild(reader_ids=readers_ids(), include_default=True)
        report = feeds_check(sample=3, sections=3)
        assert report.ok, [str(v) for v in report.violations]
        transaction.set_rollback(True)


def test_the_dashboard_checks_on_demand(admin_client: Any) -> None:
    site_with_readers(make_catalogue(SECTIONS, 24))
    page = admin_client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert "Check now" in page
    checked = admin_client.get("/admin/editorial/ruleset/dashboard/?check=1").content.decode()
    assert "No violation:" in checked


def test_readers_known_by_the_hosts_id_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """No browser session can be theirs: their feeds are read in process, as the API serves."""
    catalogue = make_catalogue(SECTIONS, 36)
    reader = readers.reader_for_client_id(client_id="host-42")
    for k, article in enumerate(catalogue[1:13:3]):
        Event.objects.create(
            reader=reader, event_id=f"h{k}", kind=EventKind.FINISH, article=article,
            occurred_at=timezone.now() - timedelta(minutes=k), read_depth=1.0,
        )  # fmt: skip
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    publish("Default", {"kind": "block", "target_field": "section", "target_value": "Sport"})
    assert feeds_check(sample=3, sections=3).ok
    monkeypatch.setattr(feeds.read, "hard_filtered", lambda items, *a, **k: items)
    surfaces = {v.surface for v in feeds_check(sample=3, sections=3).violations}
    assert "API feed of a host reader" in surfaces
