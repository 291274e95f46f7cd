"""Rule sets scoped to a section page, a device class or an experiment variant.

One set is live per scope; scoped sets are layered over the site-wide set when a feed is read
in their scope (the site, the API and the preview alike), and cost no rebuild.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editorial import preview, services
from editorial.compiler import live_rules_memo_clear
from editorial.experiments import services as experiment_services
from editorial.experiments.selectors import reader_arm
from editorial.forms import RuleSetForm
from editorial.models import (
    AuditEntry,
    Experiment,
    Rule,
    RuleSet,
    RuleSetStatus,
    RulesState,
    Scope,
    Variant,
    VariantKind,
)
from newsrec import feeds, readers
from newsrec.models import Article, Feed, Reader
from tests.factories import ReaderFactory, make_article, make_catalogue, make_reader_who_finished

pytestmark = pytest.mark.django_db

SECTIONS = ["Politics", "Sport", "Culture"]


@pytest.fixture
def catalogue() -> list[Article]:
    return make_catalogue(SECTIONS, 45)


def published(name: str, *rules: dict[str, Any], scope: str = "site", value: str = "") -> RuleSet:
    rule_set = RuleSet.objects.create(name=name, scope=scope, scope_value=value)
    for row in rules:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set)
    live_rules_memo_clear()  # what the commit does (tests run inside one transaction)
    rule_set.refresh_from_db()
    return rule_set


def pin(article: Article, slot: int = 1, **extra: Any) -> dict[str, Any]:
    return {"kind": "pin", "target_field": "article", "target_value": str(article.pk),
            "slot": slot, **extra}  # fmt: skip


def block(field: str, value: str) -> dict[str, Any]:
    return {"kind": "block", "target_field": field, "target_value": value}


def built_reader(catalogue: list[Article]) -> Reader:
    """A reader of Politics and Culture with a stored feed (and the default feed stored too)."""
    reader = make_reader_who_finished([catalogue[0], catalogue[2]], seen=True)
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    return reader


def ids(view: feeds.FeedView) -> list[int]:
    return [item["article_id"] for item in view.items]


# --- One live set per scope ---------------------------------------------------------------------


def test_each_scope_has_its_own_live_set() -> None:
    make_catalogue(SECTIONS, 3)
    site = published("Default")
    politics = published("Politics desk", scope=Scope.SECTION, value="Politics")
    mobile = published("Mobile", scope=Scope.DEVICE, value="mobile")
    assert set(RuleSet.objects.live()) == {site, politics, mobile}

    second = published("Politics, election night", scope=Scope.SECTION, value="Politics")
    politics.refresh_from_db()
    assert (politics.is_live, politics.status) == (False, RuleSetStatus.RETIRED)
    assert set(RuleSet.objects.live()) == {site, second, mobile}
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleSet.objects.filter(pk=politics.pk).update(is_live=True)
    created = AuditEntry.objects.get(action="create", rule_set=mobile)
    assert (created.after or {})["scope"] == "device"
    assert AuditEntry.objects.filter(rule_set=second, summary__contains="Section page: Politics")


def test_a_scoped_change_bumps_the_version_but_rebuilds_no_feed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_catalogue(SECTIONS, 3)
    before = RulesState.current()
    with django_capture_on_commit_callbacks() as callbacks:
        published("Politics desk", block("tag", "gore"), scope=Scope.SECTION, value="Politics")
    assert RulesState.current() > before
    assert services.rules_fanout_enqueue not in callbacks
    with django_capture_on_commit_callbacks() as callbacks:
        published("Default", block("tag", "gore"))
    assert callbacks.count(services.rules_fanout_enqueue) == 1


def test_schedules_switch_per_scope_and_overlap_only_within_one() -> None:
    make_catalogue(SECTIONS, 3)
    t0 = timezone.now()
    default = published("Default")
    window = {"starts_at": t0 + timedelta(hours=1), "ends_at": t0 + timedelta(hours=2)}
    election = RuleSet.objects.create(
        name="Election page", scope=Scope.SECTION, scope_value="Politics", **window
    )
    night = RuleSet.objects.create(name="Night", **window)  # same window, site-wide: allowed
    services.ruleset_publish(rule_set=election, now=t0)
    services.ruleset_publish(rule_set=night, now=t0)
    clash = RuleSet.objects.create(
        name="Clash", scope=Scope.SECTION, scope_value="Politics", **window
    )
    with pytest.raises(Exception, match="overlaps the scheduled set Election page"):
        services.ruleset_publish(rule_set=clash, now=t0)

    assert services.ruleset_switch(now=t0 + timedelta(hours=1)) == night
    assert set(RuleSet.objects.live()) == {election, night}
    services.ruleset_switch(now=t0 + timedelta(hours=2))
    assert set(RuleSet.objects.live()) == {default}
    election.refresh_from_db()
    assert election.status == RuleSetStatus.RETIRED


def test_scope_values_are_checked_in_editor_words() -> None:
    make_catalogue(SECTIONS, 3)
    experiment = Experiment.objects.create(name="Spring")
    holdout = Variant.objects.create(experiment=experiment, name="off", kind=VariantKind.HOLDOUT)
    treated = Variant.objects.create(experiment=experiment, name="B")
    cases = {
        (Scope.DEVICE, "watch"): "must be one of mobile, tablet, desktop",
        (Scope.SECTION, "Weather"): "No article is in a section called",
        (Scope.SECTION, ""): "Name the section",
        (Scope.VARIANT, str(holdout.pk)): "holdout variant gets no recommendations",
        (Scope.VARIANT, "999999"): "No such experiment variant",
        (Scope.SITE, "Politics"): "site-wide set has no scope value",
    }
    for (scope, value), message in cases.items():
        form = RuleSetForm(data={"name": f"Set {scope} {value}", "scope": scope,
                                 "scope_value": value})  # fmt: skip
        assert not form.is_valid()
        assert message in " ".join(map(str, form.errors["scope_value"])), (scope, value)
    form = RuleSetForm(
        data={
            "name": "Variant B",
            "scope": Scope.VARIANT,
            "scope_value": f"Spring: B [#{treated.pk}]",
        }
    )
    assert form.is_valid(), form.errors
    assert form.save().scope_value == str(treated.pk)


def test_a_published_set_keeps_its_scope() -> None:
    make_catalogue(SECTIONS, 3)
    rule_set = published("Politics desk", scope=Scope.SECTION, value="Politics")
    data = {"name": rule_set.name, "scope": Scope.SECTION, "scope_value": "Sport",
            "revision": rule_set.revision}  # fmt: skip
    with transaction.atomic():
        form = RuleSetForm(data=data, instance=rule_set)
        assert not form.is_valid()
    assert "copy it as a draft" in " ".join(map(str, form.errors["scope"]))


# --- Applied when feeds are read ------------------------------------------------------------


def test_a_section_page_obeys_its_set_and_other_pages_do_not(catalogue: list[Article]) -> None:
    reader = built_reader(catalogue)
    stored = ids(feeds.feed_read(reader=reader))
    blocked = next(a for a in catalogue if a.pk in stored and a.section == "Politics")
    pinned = [a for a in catalogue if a.section == "Sport"][-1]  # the oldest: not on top anyway
    published(
        "Politics desk", pin(pinned), block("article", str(blocked.pk)),
        scope=Scope.SECTION, value="Politics",
    )  # fmt: skip

    page = feeds.feed_read(reader=reader, section="Politics", limit=12)
    assert ids(page)[0] == pinned.pk
    assert page.items[0]["source"] == "pin"
    assert blocked.pk not in ids(page)
    assert {i["section"] for i in page.items[1:]} == {"Politics"}
    # the section's newest articles fill the page behind the reader's own items
    assert len(page.items) == 12
    assert page.rules_tag.startswith(f"r{RulesState.current()}s")

    home = feeds.feed_read(reader=reader)
    assert blocked.pk in ids(home)
    assert ids(home)[0] != pinned.pk
    sport = feeds.feed_read(reader=reader, section="Sport")
    assert sport.rules_tag == ""

    html = Client().get("/section/Politics/").content.decode()
    shown = [int(i) for i in re.findall(r'data-newsrec-article="(\d+)"', html)]
    assert shown[0] == pinned.pk
    assert blocked.pk not in shown


def test_before_any_feed_is_built_the_newest_articles_obey_the_blocklists(
    catalogue: list[Article],
) -> None:
    """A new site before its first rebuild serves the newest articles, never a blocked one."""
    newest = list(Article.objects.published().order_by("-published_at", "-id"))
    site_blocked = newest[0]
    politics = [a for a in newest if a.section == "Politics" and a != site_blocked]
    published("Site", block("article", str(site_blocked.pk)))
    published("Politics desk", block("article", str(politics[0].pk)),
              scope="section", value="Politics")  # fmt: skip
    assert not Feed.objects.exists()

    home = feeds.feed_read(reader=None, limit=10)
    assert ids(home) == [a.pk for a in newest if a != site_blocked][:10]
    assert {i["source"] for i in home.items} == {"latest"}
    page = feeds.feed_read(reader=None, section="Politics", limit=5)
    assert ids(page) == [a.pk for a in politics[1:6]]

    html = Client().get("/").content.decode()
    # the "Top stories" list (the sections' own latest lists below it are not recommendations)
    top = html.split('id="for-you-heading"', 1)[1].split("</section>", 1)[0]
    shown = [int(i) for i in re.findall(r'data-newsrec-article="(\d+)"', top)]
    assert shown[:3] == [a.pk for a in newest[1:4]]
    html = Client().get("/section/Politics/").content.decode()
    shown = [int(i) for i in re.findall(r'data-newsrec-article="(\d+)"', html)]
    assert shown[:3] == [a.pk for a in politics[1:4]]
    assert politics[0].pk not in shown
    client = APIClient()
    body = client.get("/api/v1/feeds/me/?section=Politics&limit=3").json()
    assert [i["article_id"] for i in body["items"]] == [a.pk for a in politics[1:4]]
    assert client.get("/api/v1/feeds/me/rails/").json()["rails"] == []


def test_a_section_boost_lifts_its_target_and_a_max_age_removes_old_news(
    catalogue: list[Article],
) -> None:
    reader = built_reader(catalogue)
    before = ids(feeds.feed_read(reader=reader, section="Culture", limit=15))
    cutoff = timezone.now() - timedelta(hours=30)
    dated = {pk: at for pk, at in Article.objects.values_list("pk", "published_at") if at}
    recent = [i for i in before[1:] if dated[i] >= cutoff]
    last = Article.objects.get(pk=recent[-1])
    published(
        "Culture desk",
        {"kind": "boost", "target_field": "article", "target_value": str(last.pk), "factor": 50},
        {"kind": "max_age", "hours": 30},
        scope=Scope.SECTION, value="Culture",
    )  # fmt: skip
    after = feeds.feed_read(reader=reader, section="Culture", limit=15)
    assert ids(after)[0] == last.pk
    assert any(dated[i] < cutoff for i in before)
    assert all(dated[i] >= cutoff for i in ids(after))


def test_a_device_set_applies_on_that_device_only(catalogue: list[Article]) -> None:
    reader = built_reader(catalogue)
    tablet_pin = next(a for a in catalogue[3:] if a.section == "Culture")  # not read by them
    published("Default", pin(tablet_pin, devices=["tablet"]))
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    published("Mobile", block("section", "Sport"), scope=Scope.DEVICE, value="mobile")

    mobile = feeds.feed_read(reader=reader, device="mobile")
    desktop = feeds.feed_read(reader=reader, device="desktop")
    assert mobile is not None
    assert desktop is not None
    assert "Sport" not in {i["section"] for i in mobile.items}
    assert "Sport" in {i["section"] for i in desktop.items}
    # a site-wide pin for tablets only: stored feeds are built without a device, reads place it
    assert ids(feeds.feed_read(reader=reader, device="tablet"))[0] == tablet_pin.pk
    assert ids(desktop)[0] != tablet_pin.pk


def test_a_variant_set_applies_to_that_variants_readers_only(catalogue: list[Article]) -> None:
    experiment = Experiment.objects.create(name="Less sport", salt="fixed")
    control = Variant.objects.create(experiment=experiment, name="control", weight=45)
    treated = Variant.objects.create(experiment=experiment, name="no sport", weight=45)
    Variant.objects.create(experiment=experiment, name="off", kind=VariantKind.HOLDOUT, weight=10)
    experiment_services.experiment_start(experiment=experiment)
    published("No sport", block("section", "Sport"), scope=Scope.VARIANT, value=str(treated.pk))
    arms: dict[int, Reader] = {}
    while len(arms) < 2:
        reader = make_reader_who_finished([catalogue[0]], seen=True)
        arm = reader_arm(reader=reader)
        assert arm is not None
        if arm.variant_id in (control.pk, treated.pk):
            arms.setdefault(arm.variant_id, reader)
    feeds.feeds_rebuild(reader_ids=[r.pk for r in arms.values()], include_default=True)
    for variant_id, reader in arms.items():
        sections = {i["section"] for i in feeds.feed_read(reader=reader).items}  # type: ignore[union-attr]
        assert ("Sport" in sections) is (variant_id != treated.pk)


def test_the_api_serves_section_feeds_with_etags_that_follow_the_rules(
    catalogue: list[Article],
) -> None:
    user = User.objects.create_user("ada", password="pw-long-enough-1")
    reader = readers.reader_for_user(user=user)
    make_reader_who_finished([catalogue[0]])  # someone's reading makes trending
    feeds.feeds_rebuild(reader_ids=[reader.pk], include_default=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = client.get("/api/v1/feeds/me/?section=Politics")
    assert response.status_code == 200, response.content
    assert {i["section"] for i in response.json()["items"]} == {"Politics"}
    etag = response["ETag"]
    assert (
        client.get("/api/v1/feeds/me/?section=Politics", HTTP_IF_NONE_MATCH=etag).status_code == 304
    )
    published("Politics desk", block("section", "Culture"), scope=Scope.SECTION, value="Politics")
    again = client.get("/api/v1/feeds/me/?section=Politics", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200
    assert again["ETag"] != etag
    bad = client.get("/api/v1/feeds/me/?section=Weather")
    assert bad.status_code == 400
    assert "section" in bad.json()["errors"]


def test_holdout_readers_get_the_section_newest_minus_its_blocklist(
    catalogue: list[Article],
) -> None:
    experiment = Experiment.objects.create(name="Holdout", salt="fixed")
    Variant.objects.create(experiment=experiment, name="on")
    Variant.objects.create(experiment=experiment, name="off", kind=VariantKind.HOLDOUT)
    experiment_services.experiment_start(experiment=experiment)
    reader = ReaderFactory.create()
    while not reader_arm(reader=reader).holdout:  # type: ignore[union-attr]
        reader = ReaderFactory.create()
    blocked = next(a for a in catalogue if a.section == "Politics")
    published("Politics desk", block("article", str(blocked.pk)), scope=Scope.SECTION,
              value="Politics")  # fmt: skip
    view = feeds.feed_read(reader=reader, section="Politics")
    assert view.items
    assert {i["section"] for i in view.items} == {"Politics"}
    assert blocked.pk not in ids(view)


# --- Preview -----------------------------------------------------------------------------------


def test_preview_of_a_scoped_draft_shows_the_page_it_is_for(catalogue: list[Article]) -> None:
    reader = built_reader(catalogue)
    pinned = next(a for a in catalogue if a.section == "Sport")
    draft = RuleSet.objects.create(name="Politics draft", scope=Scope.SECTION,
                                   scope_value="Politics")  # fmt: skip
    Rule.objects.create(rule_set=draft, **pin(pinned, slot=2))
    state = feeds.reader_states(reader_ids=[reader.pk])[0]
    result = preview.preview_reader(rule_set=draft, state=state, n=10)
    assert result.draft.items[1].article_id == pinned.pk
    assert pinned.pk not in result.live.article_ids
    assert {i.section for i in result.live.items} == {"Politics"}
    aggregate = preview.preview_aggregate(rule_set=draft, reader_ids=[reader.pk], top=5)
    assert aggregate.draft.reach == {pinned.pk: 1}
    assert aggregate.live.reach == {}


def test_the_admin_previews_scoped_drafts_and_lists_live_scoped_sets(
    catalogue: list[Article],
) -> None:
    from tests.integration.test_editorial_publish import make_user

    built_reader(catalogue)
    live = published("Mobile", block("section", "Sport"), scope=Scope.DEVICE, value="mobile")
    pinned = [a for a in catalogue if a.section == "Culture"][-1]
    draft = RuleSet.objects.create(name="Politics draft", scope=Scope.SECTION,
                                   scope_value="Politics")  # fmt: skip
    Rule.objects.create(rule_set=draft, **pin(pinned))
    client = Client()
    client.force_login(make_user("junior", "Editor"))
    page = client.get(f"/admin/editorial/ruleset/{draft.pk}/preview/",
                      {"persona": "politics-desktop", "aggregate": "1", "sample": "5"})  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200
    assert "Section page: Politics: feeds as read there" in html
    first_draft_cell = re.search(r'<td class="[^"]*" data-article="(\d+)"', html)
    assert first_draft_cell is not None
    assert int(first_draft_cell.group(1)) == pinned.pk
    dashboard = client.get("/admin/editorial/ruleset/dashboard/").content.decode()
    assert f'Device: mobile: <a href="/admin/editorial/ruleset/{live.pk}/change/">' in dashboard
    lookup = client.get("/admin/editorial/ruleset/lookup/", {"field": "scope:section", "q": "pol"})
    assert [r["value"] for r in lookup.json()["results"]] == ["Politics"]


def test_a_scoped_set_ending_with_nothing_after_it_bumps_the_version() -> None:
    make_catalogue(SECTIONS, 3)
    t0 = timezone.now()
    evening = RuleSet.objects.create(
        name="Evening sport", scope=Scope.SECTION, scope_value="Sport",
        starts_at=t0 + timedelta(minutes=1), ends_at=t0 + timedelta(hours=1),
    )  # fmt: skip
    services.ruleset_publish(rule_set=evening, now=t0)
    services.ruleset_switch(now=t0 + timedelta(minutes=1))
    evening.refresh_from_db()
    assert evening.is_live
    before = RulesState.current()
    services.ruleset_switch(now=t0 + timedelta(hours=1))
    assert not RuleSet.objects.live().exists()
    assert RulesState.current() == before + 1  # readers' ETags on the Sport page change


def test_read_time_pins_skip_what_the_reader_read_and_unembedded_articles_do_not_break_mmr(
    catalogue: list[Article],
) -> None:
    reader = built_reader(catalogue)  # they finished catalogue[0], a Politics story
    fresh = make_article(title="Just in", section="Politics")  # newest, not embedded yet
    published(
        "Politics desk", pin(catalogue[0]), {"kind": "mmr", "mmr_lambda": 0.5},
        scope=Scope.SECTION, value="Politics",
    )  # fmt: skip
    page = feeds.feed_read(reader=reader, section="Politics", limit=10)
    assert catalogue[0].pk not in ids(page)
    assert any("already read" in c or "read or hidden" in c for c in page.conflicts)  # type: ignore[union-attr]
    assert fresh.pk in ids(page)
    anonymous = feeds.feed_read(reader=None, section="Politics", limit=10)
    assert ids(anonymous)[0] == catalogue[0].pk  # a new visitor has read nothing
