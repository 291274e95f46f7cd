"""Preview of a draft against the live rules (one reader, personas, a sample) and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from editorial import preview, services
from editorial.models import Rule, RuleSet, SectionMixSample
from newsrec import feeds
from newsrec.models import Event, EventKind, Feed, Reader
from tests.factories import ReaderFactory, make_catalogue, topic_vector
from tests.integration.test_editorial_publish import make_user

pytestmark = pytest.mark.django_db
SECTIONS = ["Sport", "Politics", "Culture", "Science"]


@pytest.fixture
def catalogue() -> list[Any]:
    feeds.pool_cache_clear()
    return list(make_catalogue(SECTIONS, 60))


def sports_reader(catalogue: list[Any], user: User | None = None) -> Reader:
    reader = cast(Reader, ReaderFactory.create(user=user, last_seen=timezone.now()))
    for n, article in enumerate(a for a in catalogue[:24] if a.section == "Sport"):
        Event.objects.create(
            reader=reader, event_id=f"e{n}", kind=EventKind.FINISH, article=article,
            occurred_at=timezone.now() - timedelta(minutes=n), dwell_seconds=120, read_depth=1.0,
        )  # fmt: skip
    from newsrec.profiles import profile_rebuild

    profile_rebuild(reader_id=reader.pk)
    return reader


@pytest.fixture
def draft_and_live(catalogue: list[Any]) -> tuple[RuleSet, Any]:
    """Live: nothing special. Draft: pin an old Culture story at slot 2, boost Politics."""
    live = RuleSet.objects.create(name="Default")
    services.ruleset_publish(rule_set=live)
    pinned = catalogue[-2]  # the oldest Culture story: nowhere near the top on its own
    draft = RuleSet.objects.create(name="Election night")
    Rule.objects.create(rule_set=draft, kind="pin", target_field="article",
                        target_value=str(pinned.pk), slot=2)  # fmt: skip
    Rule.objects.create(rule_set=draft, kind="boost", target_field="section",
                        target_value="Politics", factor=3.0)  # fmt: skip
    return draft, pinned


def politics_positions(feed: Any) -> float:
    """Mean position of the Politics stories (feeds long enough to hold several)."""
    return float(np.mean([k for k, i in enumerate(feed.items, 1) if i.section == "Politics"]))


def test_one_reader_side_by_side_with_reasons_and_nothing_written(
    catalogue: list[Any], draft_and_live: tuple[RuleSet, Any]
) -> None:
    draft, pinned = draft_and_live
    reader = sports_reader(catalogue)
    state = feeds.reader_states(reader_ids=[reader.pk])[0]
    feeds_before = Feed.objects.count()
    result = preview.preview_reader(rule_set=draft, state=state, n=10)
    assert Feed.objects.count() == feeds_before  # a preview never writes feeds
    assert pinned.pk not in result.live.article_ids
    assert result.draft.items[1].article_id == pinned.pk
    assert result.draft.items[1].pinned
    assert result.draft.items[1].reason == "Pinned by the editors"
    longer = preview.preview_reader(rule_set=draft, state=state, n=40)
    assert politics_positions(longer.draft) < politics_positions(longer.live)  # boosted higher
    assert {i.breakdown["rules"] for i in longer.draft.items if i.section == "Politics"} == {3.0}
    row = next(r for r in result.rows if r.article_id == pinned.pk)
    assert (row.change, row.draft_pos) == ("entered", 2)
    assert result.entered
    assert len(result.left) == len(result.entered)  # same length: what enters pushes out
    assert {"relevance", "rules", "score"} <= set(result.draft.items[0].breakdown)
    slots = result.side_by_side()
    assert len(slots) == 10
    assert slots[1][1] is not None
    assert slots[1][1].article_id == pinned.pk
    assert result.seconds < 5


def test_personas_are_built_from_the_live_articles(catalogue: list[Any]) -> None:
    pool = feeds.pool_cached()
    state, device = preview.persona_state("sport-mobile", pool, now=timezone.now().timestamp())
    assert device == "mobile"
    assert dict(state.section_affinity) == {"Sport": 0.9}
    vector = np.asarray(state.interests[0].vector)
    sport = np.mean([topic_vector(i, topics=4) for i in range(0, 60, 4)], axis=0)
    assert float(vector @ (sport / np.linalg.norm(sport))) > 0.99
    new, _ = preview.persona_state("new", pool, now=0)
    assert new.is_new
    politics = preview.persona_state("politics-desktop", pool, now=0)[0]
    result = preview.preview_reader(
        rule_set=RuleSet.objects.create(name="Empty"), state=politics, device="desktop", n=10
    )
    assert sum(i.section == "Politics" for i in result.live.items[:5]) >= 3


def test_aggregate_over_a_sample_of_readers(
    catalogue: list[Any], draft_and_live: tuple[RuleSet, Any]
) -> None:
    draft, pinned = draft_and_live
    readers = [sports_reader(catalogue) for _ in range(3)]
    readers += [cast(Reader, ReaderFactory.create(last_seen=timezone.now())) for _ in range(2)]
    feeds_before = Feed.objects.count()
    result = preview.preview_aggregate(rule_set=draft, sample=1000)
    assert Feed.objects.count() == feeds_before
    assert result.readers == len(readers)
    assert result.watched == {pinned.pk: pinned.title}
    assert result.articles() == [(pinned.pk, pinned.title, 0, len(readers))]
    shares = {s: (live, new) for s, live, new in result.sections()}
    assert shares["Culture"][1] == 1.0  # the pin puts Culture in every top 10
    assert shares["Politics"][1] >= shares["Politics"][0]
    assert 1 <= result.live.mean_sections <= 4
    assert result.draft.mean_sections >= result.live.mean_sections - 0.5
    assert preview.preview_aggregate(rule_set=draft, sample=2).readers == 2


@pytest.fixture
def junior() -> User:
    return make_user("junior", "Editor")


def test_preview_page_for_a_persona_and_a_reader(
    catalogue: list[Any], draft_and_live: tuple[RuleSet, Any], junior: User
) -> None:
    draft, pinned = draft_and_live
    client = Client()
    client.force_login(junior)
    url = f"/admin/editorial/ruleset/{draft.pk}/preview/"
    page = client.get(url, {"persona": "sport-mobile", "aggregate": "1", "sample": "10"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sports fan on mobile" in html
    assert f'data-article="{pinned.pk}"' in html
    assert "Pinned by the editors" in html
    assert "Score breakdown" in html
    assert "sampled readers" in html
    owner = User.objects.create_user("reader1", "reader1@example.org", "pw")
    reader = sports_reader(catalogue, user=owner)
    by_id = client.get(url, {"reader": str(reader.public_id)})
    assert f"reader {reader.public_id}" in by_id.content.decode()
    # E-mail search is personal data: refused unless granted.
    by_mail = client.get(url, {"reader": "reader1@example.org"})
    assert by_mail.context["form"].errors["reader"] == ["No reader with this public id."]
    junior.user_permissions.add(Permission.objects.get(codename="view_reader_data"))
    junior = User.objects.get(pk=junior.pk)
    client.force_login(junior)
    by_mail = client.get(url, {"reader": "reader1@example.org"})
    assert f"reader {reader.public_id}" in by_mail.content.decode()
    outsider = User.objects.create_user("outsider", is_staff=True)
    client.force_login(outsider)
    assert client.get(url, {"persona": "new"}).status_code == 403


def test_dashboard(catalogue: list[Any], draft_and_live: tuple[RuleSet, Any], junior: User) -> None:
    readers = [sports_reader(catalogue) for _ in range(2)]
    feeds.feeds_rebuild(reader_ids=[r.pk for r in readers], include_default=True)
    assert services.section_mix_sample_take()
    assert not services.section_mix_sample_take()  # at most hourly
    assert SectionMixSample.objects.get().feeds == 3
    client = Client()
    client.force_login(junior)
    index = client.get("/admin/").content.decode()
    assert "/admin/editorial/ruleset/dashboard/" in index
    page = client.get("/admin/editorial/ruleset/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Default" in html  # the live set
    assert "Election night" in html  # a draft
    assert "3 stored feeds" in html
    assert "Sport story" in html  # a top recommended article
    assert 'class="editorial-bar"' in html
    progress = client.get("/admin/editorial/ruleset/progress/").json()
    assert progress["rules_version"] >= 1


@pytest.mark.parametrize("sample", ["abc", "²", "0", "5000"])
def test_a_bad_sample_size_is_a_message_not_a_500(
    catalogue: list[Any], draft_and_live: tuple[RuleSet, Any], junior: User, sample: str
) -> None:
    draft, _ = draft_and_live
    client = Client()
    client.force_login(junior)
    page = client.get(
        f"/admin/editorial/ruleset/{draft.pk}/preview/",
        {"persona": "sport-mobile", "aggregate": "1", "sample": sample},
    )
    assert page.status_code == 200
    assert "The sample is a number of readers from 1 to 1,000." in page.content.decode()
