"""What editors set is what every reader sees (#12): the rule contract on the pages readers see.

Each test publishes rules the way an editor does and then reads the page or API answer a reader
gets, not only what is stored.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.signing import get_cookie_signer
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from editorial import preview, services
from editorial.compiler import live_rules, live_rules_memo_clear, read_rules
from editorial.models import Rule, RuleSet, RuleSetStatus, Scope
from newsrec import feeds, readers, selectors
from newsrec.models import Article, Feed, Reader
from tests.factories import ReaderFactory, make_article, make_catalogue, topic_vector

pytestmark = pytest.mark.django_db

SECTIONS = ["Politics", "Science", "Sport", "Culture", "Travel", "Food"]


def publish(
    name: str, *rows: dict[str, Any], scope: str = "site", value: str = "", **window: Any
) -> RuleSet:
    rule_set = RuleSet.objects.create(name=name, scope=scope, scope_value=value, **window)
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set, now=window.get("_now"))
    live_rules_memo_clear()  # what the commit does (tests run inside one transaction)
    selectors.shared_reads_clear()
    rule_set.refresh_from_db()
    return rule_set


def cap(most: int, top: int, field: str = "section") -> dict[str, Any]:
    return {"kind": "cap", "target_field": field, "max_per_value": most, "top_k": top}


def pin(article: Article, slot: int = 1) -> dict[str, Any]:
    return {"kind": "pin", "target_field": "article", "target_value": str(article.pk),
            "slot": slot}  # fmt: skip


def block(field: str, value: str, **window: Any) -> dict[str, Any]:
    return {"kind": "block", "target_field": field, "target_value": value, **window}


def shown(html: str, heading_id: str) -> list[int]:
    """Article ids of the cards in the block headed by ``heading_id``, in page order."""
    start = html.index(f'id="{heading_id}"')
    block_html = html[start : html.index("</ol>", start)]
    return [int(i) for i in re.findall(r'data-newsrec-article="(\d+)"', block_html)]


def page_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-newsrec-article="(\d+)"', html)]


def cookie_reader() -> tuple[Reader, str]:
    """A new anonymous reader and the signed cookie value a browser holds for it."""
    reader, token = readers.reader_for_cookie(token=None, create=True)
    assert reader is not None
    assert token is not None
    salt = readers.COOKIE_NAME + readers.COOKIE_SALT
    return reader, get_cookie_signer(salt=salt).sign(token)


def reader_client(cookie: str) -> Client:
    client = Client()
    client.cookies[readers.COOKIE_NAME] = cookie
    return client


def stored_feed(reader: Reader, articles: list[Article], *, byr: dict[int, Article]) -> None:
    """A stored feed in this order; ``byr`` maps positions to the seed of a "Because you read"
    item (the front page moves those into rails)."""
    items: list[dict[str, Any]] = []
    for n, article in enumerate(articles):
        assert article.published_at is not None
        seed = byr.get(n)
        items.append(
            {"article_id": article.pk, "title": article.title, "section": article.section,
             "published_at": article.published_at.timestamp(), "score": 1.0 - n / 100,
             "source": "because_you_read" if seed else "interest",
             "reason": f"Because you read {seed.title}" if seed else "You read Science",
             "seed_id": seed.pk if seed else None, "breakdown": []}
        )  # fmt: skip
    Feed.objects.update_or_create(
        key=feeds.feed_key(reader.pk),
        defaults={"reader": reader, "items": items, "built_at": timezone.now(),
                  "rules_version": live_rules().version},
    )  # fmt: skip


# --- 1. Caps hold on what a page shows -----------------------------------------------------------


def test_the_front_page_grid_keeps_the_section_cap_after_the_rails_take_their_cards() -> None:
    catalogue = make_catalogue(SECTIONS, 60)
    publish("Default", cap(2, 10))
    by_section = {s: [a for a in catalogue if a.section == s] for s in SECTIONS}
    seed = by_section["Politics"][-1]
    # A capped top 10 (at most 2 per section) whose Politics/Sport/Culture items are
    # "Because you read" items, followed by Science stories only (the cap stops at 10).
    head = [*by_section["Politics"][:2], *by_section["Sport"][:2], *by_section["Culture"][:2],
            *by_section["Science"][:2], by_section["Travel"][0], by_section["Food"][0]]  # fmt: skip
    # beyond the top 10 the stored feed is uncapped: Science first, then other sections
    tail = [*by_section["Science"][2:9], *by_section["Politics"][2:5], *by_section["Sport"][2:5]]
    reader, cookie = cookie_reader()
    stored_feed(reader, head + tail, byr={0: seed, 1: seed, 2: seed, 3: seed})

    html = reader_client(cookie).get("/").content.decode()
    grid = shown(html, "for-you-heading")
    sections = {a.pk: a.section for a in catalogue}
    assert len(grid) >= 10
    top = Counter(sections[pk] for pk in grid[:10])
    assert max(top.values()) <= 2, top
    # the rails took the four seeded items; the grid shows none of them
    assert not set(grid) & {a.pk for a in head[:4]}


def test_every_first_k_of_the_feed_api_keeps_the_cap_after_a_block() -> None:
    catalogue = make_catalogue(SECTIONS, 60)
    politics = [a for a in catalogue if a.section == "Politics"]
    science = [a for a in catalogue if a.section == "Science"]
    publish("Default", cap(2, 6))
    reader, cookie = cookie_reader()
    # capped when stored; then an editor blocks two Politics stories
    stored_feed(reader, [politics[0], science[0], politics[1], science[1], *science[2:8]], byr={})
    publish("Default v2", cap(2, 6), block("article", str(politics[0].pk)),
            block("article", str(politics[1].pk)))  # fmt: skip
    api = APIClient()
    api.cookies[readers.COOKIE_NAME] = cookie
    body = api.get("/api/v1/feeds/me/").json()
    top = [item["section"] for item in body["items"][:6]]
    assert politics[0].pk not in [i["article_id"] for i in body["items"]]
    assert top.count("Science") <= 2 or len(set(top)) == 1, top


# --- 2. Site-wide pins stay on the front page ----------------------------------------------------


def test_a_site_wide_pin_stays_off_section_pages_and_a_section_pin_stays_on_its_page() -> None:
    catalogue = make_catalogue(SECTIONS, 24)
    environment = make_article(
        title="Flood defences", section="Environment", embedding=topic_vector(99, topics=6),
        embedding_status="ready", published_at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip
    sport_pick = [a for a in catalogue if a.section == "Sport"][-1]
    publish("Default", pin(environment))
    publish("Sport desk", pin(sport_pick), scope=Scope.SECTION, value="Sport")
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    client = Client()

    assert page_ids(client.get("/").content.decode())[0] == environment.pk
    politics = page_ids(client.get("/section/Politics/").content.decode())
    assert environment.pk not in politics
    sport = page_ids(client.get("/section/Sport/").content.decode())
    assert sport[0] == sport_pick.pk
    assert environment.pk not in sport
    api = APIClient()
    assert api.get("/api/v1/feeds/me/").json()["items"][0]["article_id"] == environment.pk
    section_api = api.get("/api/v1/feeds/me/?section=Politics").json()["items"]
    assert environment.pk not in [i["article_id"] for i in section_api]


# --- 3. A scheduled set layers over the standing set ---------------------------------------------


def test_a_scheduled_set_adds_to_the_standing_set_unless_told_to_replace_it() -> None:
    now = timezone.now()
    old = make_article(title="Nine days old", section="Politics",
                       published_at=now - timedelta(days=9))  # fmt: skip
    fresh = make_article(title="Results", section="Politics", published_at=now - timedelta(hours=1))
    publish("Default", {"kind": "max_age", "hours": 72.0}, block("section", "Gossip"))
    night = publish(
        "Election night", pin(fresh), starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=6),
    )  # fmt: skip
    assert night.status == RuleSetStatus.SCHEDULED
    assert night.is_live

    rules = live_rules()
    assert rules.filters.max_age_hours == 72.0  # the standing set still applies
    assert rules.filters.blocked_sections == {"Gossip"}
    assert [p.article_id for p in rules.pins] == [fresh.pk]
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    home = page_ids(Client().get("/").content.decode())
    assert home[0] == fresh.pk
    assert old.pk not in home

    # Replacing the standing set is an explicit choice, shown in the preview.
    RuleSet.objects.filter(pk=night.pk).update(replaces_standing=True)
    night.refresh_from_db()
    services.ruleset_publish(rule_set=night, now=now)
    live_rules_memo_clear()
    assert live_rules().filters.max_age_hours is None
    assert preview.draft_rules(night).filters.max_age_hours is None


def test_the_preview_and_dashboard_say_that_a_scheduled_set_layers(admin_client: Client) -> None:
    now = timezone.now()
    publish("Default", {"kind": "max_age", "hours": 72.0})
    draft = RuleSet.objects.create(name="Election night", ends_at=now + timedelta(hours=6))
    assert preview.draft_rules(draft).filters.max_age_hours == 72.0
    page = admin_client.get(f"/admin/editorial/ruleset/{draft.pk}/preview/").content.decode()
    assert "added on top of" in page
    services.ruleset_publish(rule_set=draft, now=now)
    live_rules_memo_clear()
    dashboard = admin_client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert "Added on top of the standing set" in dashboard


# --- 4. Time windows of blocks ------------------------------------------------------------------


def test_a_block_holds_only_during_its_window_on_pages_and_in_the_api() -> None:
    now = timezone.now()
    catalogue = make_catalogue(SECTIONS, 24)
    sport = {a.pk for a in catalogue if a.section == "Sport"}
    publish("Default", block("section", "Sport", valid_from=now - timedelta(days=3000),
                             valid_until=now - timedelta(days=2000)))  # fmt: skip
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    assert sport & set(page_ids(Client().get("/").content.decode()))  # ended in the past

    # A window that starts after the feeds were built holds at once, without a rebuild.
    publish("Tonight", block("section", "Sport", valid_from=now + timedelta(seconds=1)))
    later = now + timedelta(minutes=5)
    items = feeds.hard_filtered(
        list(Feed.objects.get(key=feeds.DEFAULT_FEED_KEY).items),
        live_rules().filters, now=later.timestamp(), labels=False,
    )  # fmt: skip
    assert items
    assert not sport & {i["article_id"] for i in items}
    allowed = Article.objects.filter(pk__in=sport).allowed_by(live_rules().filters, now=later)
    assert allowed.count() == 0


def test_kinds_without_a_window_refuse_one() -> None:
    rule_set = RuleSet.objects.create(name="Draft")
    rule = Rule(rule_set=rule_set, kind="max_age", hours=24.0,
                valid_until=timezone.now() + timedelta(days=1))  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        rule.full_clean()
    assert "valid_until" in raised.value.message_dict
    read_rules()  # the memo still loads


# --- 5. Typos get a warning ----------------------------------------------------------------------


def test_a_target_that_matches_nothing_is_saved_with_a_did_you_mean_warning(
    admin_client: Client,
) -> None:
    from tests.integration.test_editorial_admin import form_data

    make_catalogue(SECTIONS, 12)
    make_article(title="Tagged", section="Science", tags=["climate"])
    rules = [
        {"kind": "boost", "target_field": "section", "target_value": "Sciense", "strength": "3"},
        {"kind": "block", "target_field": "tag", "target_value": "NoSuchTagAtAll",
         "strength": "never"},
        {"kind": "boost", "target_field": "tag", "target_value": "climate", "strength": "3"},
    ]  # fmt: skip
    response = admin_client.post("/admin/editorial/ruleset/add/", form_data(rules), follow=True)
    text = response.content.decode()
    assert "no live article has the section “Sciense”" in text
    assert "Did you mean “Science”?" in text
    assert "“NoSuchTagAtAll”" in text
    assert "“climate”" not in text  # a tag that matches is not reported
    rule_set = RuleSet.objects.get()
    assert rule_set.rules.count() == 3  # saved: a warning, not an error

    page = admin_client.get(f"/admin/editorial/ruleset/{rule_set.pk}/preview/").content.decode()
    assert "Did you mean “Science”?" in page
    services.ruleset_publish(rule_set=rule_set)
    dashboard = admin_client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert "Rules that match no live article" in dashboard
    assert "“Sciense”" in dashboard


# --- 14. Dashboard figures -----------------------------------------------------------------------


def test_a_finished_rebuild_shows_its_duration_not_the_time_since_it_started(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    from editorial.models import SectionMixSample

    ReaderFactory.create_batch(3)
    start = clock.time()
    monkeypatch.setattr(clock, "time", lambda: start)
    run = feeds.fanout_start(enqueue=lambda ids, run_id, first: None)
    monkeypatch.setattr(clock, "time", lambda: start + 12)
    feeds.fanout_progress_add(run_id=run, done=feeds.fanout_progress()["total"])  # type: ignore[index]
    monkeypatch.setattr(clock, "time", lambda: start + 3600)
    progress = feeds.fanout_progress()
    assert progress is not None
    assert progress["duration_seconds"] == 12.0
    SectionMixSample.objects.create(feeds=1, mix={"Politics": 0.6, "Sport": 0.4})
    SectionMixSample.objects.create(feeds=2, mix={"Sport": 0.5, "Culture": 0.5})
    page = admin_client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert "done in 12 s" in page
    assert "1 stored feeds" not in page
    legend = page[page.index('id="dash-mix-legend"') :]
    assert all(name in legend for name in ("Culture", "Politics", "Sport"))


# --- 8. Publishing is what the editor reviewed ---------------------------------------------------


def test_publishing_refuses_rules_saved_after_the_review(admin_client: Client) -> None:
    draft = RuleSet.objects.create(name="Draft")
    Rule.objects.create(rule_set=draft, kind="max_age", hours=48.0)
    review = admin_client.get(f"/admin/editorial/ruleset/{draft.pk}/publish/").content.decode()
    assert "Added: Maximum age 48 h" in review
    reviewed = draft.revision
    RuleSet.objects.filter(pk=draft.pk).update(revision=reviewed + 1)  # saved again meanwhile
    response = admin_client.post(
        f"/admin/editorial/ruleset/{draft.pk}/publish/", {"revision": reviewed}, follow=True
    )
    assert "saved again since you reviewed it" in response.content.decode()
    draft.refresh_from_db()
    assert draft.is_draft
    assert not draft.versions.exists()


# --- 12. Restore and history ----------------------------------------------------------------------


def test_one_step_back_to_the_previous_set_or_to_no_rules(admin_client: Client) -> None:
    first = publish("Default", block("section", "Sport"))
    publish("Autumn", block("section", "Culture"))
    assert live_rules().filters.blocked_sections == {"Culture"}
    page = admin_client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert "Back to “Default”" in page
    admin_client.post("/admin/editorial/ruleset/restore/", {"to": "previous"})
    live_rules_memo_clear()
    first.refresh_from_db()
    assert first.is_live
    assert live_rules().filters.blocked_sections == {"Sport"}
    admin_client.post("/admin/editorial/ruleset/restore/", {"to": "none"})
    live_rules_memo_clear()
    assert not RuleSet.objects.live().exists()
    assert live_rules().filters.blocked_sections == frozenset()


def test_a_version_page_shows_rules_and_a_readable_diff(admin_client: Client) -> None:
    article = make_article(title="Flood defences", section="Environment")
    rule_set = publish("Default", block("section", "Sport"))
    rule_set.rules.all().delete()
    Rule.objects.create(rule_set=rule_set, **pin(article, 2))
    services.ruleset_publish(rule_set=rule_set)
    v2 = rule_set.versions.get(number=2)
    page = admin_client.get(f"/admin/editorial/rulesetversion/{v2.pk}/change/").content.decode()
    assert "Added: Pin “Flood defences” at slot 2" in page
    assert "Removed: Block section “Sport”" in page
    assert '"kind"' not in page  # no raw JSON


# --- 9. Reloads do not reshuffle ------------------------------------------------------------------


def test_reloading_the_front_page_does_not_reorder_it() -> None:
    from django.core.cache import cache

    from newsrec.events import events_ingest
    from tests.factories import make_reader_who_finished

    catalogue = make_catalogue(SECTIONS, 48)
    reader = make_reader_who_finished(catalogue[:3], seen=True)
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    cache.delete(f"newsrec:profile-pending:{reader.public_id}")
    first = [i["article_id"] for i in feeds.feed_read(reader=reader, limit=12).items]
    for reload in range(4):  # four reloads: every card on screen is an impression again
        report = events_ingest(
            reader=reader,
            raw_events=[
                {"event_id": f"imp-{reload}-{pk}", "kind": "impression", "article_id": pk,
                 "occurred_at": timezone.now().isoformat(), "feed_slot": slot}
                for slot, pk in enumerate(first, start=1)
            ],
        )  # fmt: skip
        assert report.count("accepted") == len(first)
    # impressions alone queue no profile update or rebuild...
    assert cache.get(f"newsrec:profile-pending:{reader.public_id}") is None
    # ...and the periodic refresh keeps the order the reader just saw
    feeds.feeds_rebuild(reader_ids=[reader.pk])
    assert [i["article_id"] for i in feeds.feed_read(reader=reader, limit=12).items] == first


# --- 13. A reader picker in the preview -----------------------------------------------------------


def test_the_preview_lists_recent_readers_and_readers_of_a_section(admin_client: Client) -> None:
    from tests.factories import make_reader_who_finished

    catalogue = make_catalogue(SECTIONS, 12)
    politics = [a for a in catalogue if a.section == "Politics"]
    sport = [a for a in catalogue if a.section == "Sport"]
    fan = make_reader_who_finished(sport, seen=True)
    wonk = make_reader_who_finished(politics, seen=True)
    quiet = make_reader_who_finished(politics[:1], seen=True)
    quiet.personalisation_enabled = False
    quiet.save(update_fields=["personalisation_enabled"])
    draft = RuleSet.objects.create(name="Draft")
    url = f"/admin/editorial/ruleset/{draft.pk}/preview/"
    page = admin_client.get(url).content.decode()
    assert str(fan.public_id) in page
    assert str(wonk.public_id) in page
    assert str(quiet.public_id) not in page  # opted out of personalisation
    section = admin_client.get(url, {"readers_of": "Sport"}).content.decode()
    picker = section[section.index('id="reader-picker"') :]
    assert str(fan.public_id) in picker
    assert str(wonk.public_id) not in picker
    assert f"?reader={fan.public_id}" in picker


# --- 11. Editors' picks ---------------------------------------------------------------------------


def test_an_editors_pick_reaches_the_feed_with_its_reason_during_its_window(
    admin_client: Client,
) -> None:
    now = timezone.now()
    catalogue = make_catalogue(SECTIONS, 60)
    picked, expired = catalogue[-1], catalogue[-2]  # the two oldest: nowhere near the top
    response = admin_client.post(
        "/admin/newsrec/article/",
        {"action": "pick_for_readers", "_selected_action": [picked.pk]},
    )
    draft = RuleSet.objects.get(name="Editors' picks")
    assert response["Location"] == f"/admin/editorial/ruleset/{draft.pk}/change/"
    Rule.objects.create(
        rule_set=draft, kind="pick", target_field="article", target_value=str(expired.pk),
        valid_from=now - timedelta(days=3), valid_until=now - timedelta(days=2),
    )  # fmt: skip
    review = admin_client.get(f"/admin/editorial/ruleset/{draft.pk}/publish/").content.decode()
    assert f"Added: Editors' pick “{picked.title}”" in html.unescape(review)
    assert draft.rules.filter(kind="pick", target_value=str(picked.pk)).exists()
    services.ruleset_publish(rule_set=draft)
    live_rules_memo_clear()
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    items = {i["article_id"]: i for i in feeds.feed_read(reader=None, limit=50).items}
    assert items[picked.pk]["reason"] == "Editor's pick"
    assert expired.pk not in items or items[expired.pk]["reason"] != "Editor's pick"


def test_a_pick_without_an_article_is_refused() -> None:
    rule = Rule(rule_set=RuleSet.objects.create(name="D"), kind="pick", target_field="section",
                target_value="Sport")  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        rule.full_clean()
    assert "target_value" in raised.value.message_dict


# --- 6. A rule that cannot be applied is reported, never a 500 -----------------------------------


def test_a_stored_rule_that_cannot_be_applied_is_reported_on_the_dashboard(
    admin_client: Client,
) -> None:
    make_catalogue(SECTIONS, 12)
    rule_set = publish("Default", block("section", "Sport"))
    # Stored before today's validation (or written around it): a pin of article "²".
    Rule.objects.bulk_create([Rule(rule_set=rule_set, kind="pin", target_field="article",
                                   target_value="²", slot=1)])  # fmt: skip
    live_rules_memo_clear()
    assert Client().get("/").status_code == 200
    assert live_rules().filters.blocked_sections == {"Sport"}  # the rest still applies
    page = admin_client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert "Rules that cannot be applied" in page
    assert "is not applied: not an article id" in page


# --- 10. Context on every surface -----------------------------------------------------------------


def test_the_front_page_uses_the_readers_local_hour_and_says_why() -> None:
    from newsrec.events import TZ_COOKIE

    catalogue = make_catalogue(SECTIONS, 24)
    reader, cookie = cookie_reader()
    stored_feed(reader, catalogue[:12], byr={})
    sport = next(a for a in catalogue[:12] if a.section == "Sport")
    now = timezone.now()
    hour = now.hour
    # a reader of Sport on their computer in the morning, wherever the server's clock is
    offset = ((8 - hour) % 24) * 60
    offset = offset - 24 * 60 if offset > 12 * 60 else offset
    Feed.objects.filter(reader=reader).update(
        context_habits={"desktop": {"morning": {"Sport": 1.0}}}
    )
    client = reader_client(cookie)
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
    without = shown(client.get("/", HTTP_USER_AGENT=agent).content.decode(), "for-you-heading")
    client.cookies[TZ_COOKIE] = str(offset)
    page = client.get("/", HTTP_USER_AGENT=agent).content.decode()
    grid = shown(page, "for-you-heading")
    assert grid.index(sport.pk) < without.index(sport.pk)
    assert "You often read Sport in the morning on a computer" in page


def test_an_empty_stored_feed_serves_the_newest_articles_not_an_empty_page() -> None:
    """Found by bench/value.py: a default feed built from an empty pool (a catalogue still
    being embedded) served no cards at all to every reader without a feed of their own."""
    catalogue = make_catalogue(SECTIONS, 12)
    Feed.objects.create(key=feeds.DEFAULT_FEED_KEY, items=[], built_at=timezone.now())
    view = feeds.feed_read(reader=None, limit=6)
    assert [i["article_id"] for i in view.items] == [a.pk for a in catalogue[:6]]
    assert page_ids(Client().get("/").content.decode())


def test_a_change_published_by_another_process_reaches_this_one_within_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each process keeps the live sets for MEMO_SECONDS; a publish elsewhere tells it through
    the shared cache, looked at every VERSION_CHECK_SECONDS (the load bench saw blocked items
    served for up to 5 s after a publish)."""
    from django.core.cache import cache

    from editorial import compiler
    from editorial.models import RulesState

    clock = [1000.0]
    monkeypatch.setattr("newsrec.memo.time.monotonic", lambda: clock[0])
    before = read_rules().rules.version
    # another process publishes: the database and the shared cache move, this memo does not
    RulesState.bump()
    cache.set(compiler.RULES_VERSION_KEY, RulesState.current())
    assert read_rules().rules.version == before  # within VERSION_CHECK_SECONDS
    clock[0] += compiler.VERSION_CHECK_SECONDS + 0.1
    assert read_rules().rules.version == before + 1  # long before MEMO_SECONDS
    assert compiler.VERSION_CHECK_SECONDS + 0.1 < compiler.MEMO_SECONDS
