"""The fast reader read path: memoised shared blocks, story cards built in Python, feed JSON."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django.utils.timesince import timesince

from editorial.experiments.selectors import running_experiment
from newsrec import feeds, readers, selectors
from newsrec.api.feeds import FeedSerializer, _items, feed_data
from newsrec.models import Article, Event, EventKind, Reader
from newsrec.templatetags.newsrec import newsrec_ago
from tests.factories import ReaderFactory, make_article

SECTIONS = ["Culture", "Politics", "Science", "Sport"]


def _catalogue(per_section: int = 10) -> list[Article]:
    now = timezone.now()
    return [
        make_article(
            title=f"{SECTIONS[i % 4]} story {i}",
            section=SECTIONS[i % 4],
            published_at=now - timedelta(minutes=10 * i + 5),
        )
        for i in range(per_section * 4)
    ]


def _ids(blocks: dict[str, list[Article]]) -> dict[str, list[int]]:
    return {name: [a.pk for a in block] for name, block in blocks.items()}


def _clicks(article: Article, n: int) -> None:
    reader = ReaderFactory.create()
    Event.objects.bulk_create(
        Event(reader=reader, event_id=f"c{article.pk}-{i}", kind=EventKind.CLICK,
              article=article, occurred_at=timezone.now())
        for i in range(n)
    )  # fmt: skip


# --- Memoised shared blocks (outside transactions, as in a served request) ----------------------


@pytest.mark.django_db(transaction=True)
def test_section_blocks_are_memoised_and_still_honour_each_readers_exclusions(
    django_assert_num_queries: Any,
) -> None:
    articles = _catalogue()
    first = selectors.section_latest(per_section=3)
    assert list(first) == SECTIONS
    assert _ids(first) == _ids(selectors._section_newest(keep=3, scan=500, skip=set()))
    hidden = {first["Sport"][0].pk, first["Culture"][1].pk}
    with django_assert_num_queries(0):  # served from the memo
        mine = selectors.section_latest(per_section=3, exclude=hidden)
    assert _ids(mine) == _ids(selectors._section_newest(keep=3, scan=500, skip=hidden))
    assert not hidden & {a.pk for block in mine.values() for a in block}

    # More exclusions in one section than the memo has spares: the database answers.
    sport = [a.pk for a in articles if a.section == "Sport"]
    many = set(sport[: 3 + selectors.SECTION_SPARE])
    assert _ids(selectors.section_latest(per_section=3, exclude=many))["Sport"] == sport[8:10]


@pytest.mark.django_db(transaction=True)
def test_a_withdrawn_article_leaves_the_memoised_blocks_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _catalogue()
    newest = selectors.section_latest(per_section=3)["Science"][0]
    Article.objects.filter(pk=newest.pk).update(status="retracted")
    # What article_upsert_many's feeds.articles_withdraw publishes to every process (through
    # the shared cache, which other test runs use too: not written here).
    monkeypatch.setattr(feeds.withdrawn, "withdrawn_ids", lambda: frozenset({newest.pk}))
    assert newest.pk not in _ids(selectors.section_latest(per_section=3))["Science"]


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_database_answers() -> None:
    _catalogue(per_section=2)
    selectors.section_latest(per_section=3)  # memoised
    with transaction.atomic():
        fresh = make_article(title="Just in", section="Sport", published_at=timezone.now())
        assert selectors.section_latest(per_section=3)["Sport"][0].pk == fresh.pk
        transaction.set_rollback(True)
    # The rolled-back article never reached the memo.
    assert fresh.pk not in _ids(selectors.section_latest(per_section=3))["Sport"]


@pytest.mark.django_db(transaction=True)
def test_trending_is_memoised_with_exclusions_applied_and_falls_back_when_short(
    monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    articles = _catalogue(per_section=2)
    for rank, article in enumerate(articles[:6]):
        _clicks(article, 10 - rank)
    expected = [a.pk for a in articles[:6]]
    assert [a.pk for a in selectors.articles_trending(limit=5)] == expected[:5]
    with django_assert_num_queries(0):
        mine = selectors.articles_trending(limit=5, exclude={expected[0], expected[2]})
    assert [a.pk for a in mine] == [expected[1], *expected[3:6]]

    # A ranking cut short (fewer rows memoised than clicked articles): exclusions that use it
    # up go to the database, which still knows the rest.
    selectors.shared_reads_clear()
    monkeypatch.setattr(selectors, "TRENDING_SCAN", 3)
    assert [a.pk for a in selectors.articles_trending(limit=1)] == expected[:1]
    got = selectors.articles_trending(limit=1, exclude=set(expected[:3]))
    assert [a.pk for a in got] == expected[3:4]


@pytest.mark.django_db(transaction=True)
def test_the_home_page_needs_four_queries_once_the_shared_blocks_are_memoised(
    django_assert_max_num_queries: Any,
) -> None:
    articles = _catalogue()
    _clicks(articles[7], 3)
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    client = Client()
    client.get("/")
    running_experiment()
    # reader, hidden articles, feed, its articles (no reader yet: just the feed and articles)
    with django_assert_max_num_queries(4):
        html = client.get("/").content.decode()
    # (the articles are not embedded: the stored feed is empty, so the page shows the newest
    # articles, the clicked one among them, and Trending does not repeat it)
    assert f'data-newsrec-article="{articles[7].pk}"' in html


@pytest.mark.django_db(transaction=True)
def test_card_articles_are_kept_while_the_catalogue_is_unchanged_and_never_outlive_a_change(
    django_assert_num_queries: Any,
) -> None:
    articles = _catalogue(per_section=2)
    ids = [a.pk for a in articles[:5]]
    assert set(selectors.articles_live_by_id(ids=ids)) == set(ids)
    with django_assert_num_queries(1) as asked:  # the catalogue's change counter only
        again = selectors.articles_live_by_id(ids=ids)
    assert set(again) == set(ids)
    assert "newsrec_article" not in asked.captured_queries[0]["sql"]

    # an edit anywhere (another process, here outside any transaction) is seen at once
    Article.objects.filter(pk=ids[0]).update(title="Corrected headline")
    assert selectors.articles_live_by_id(ids=ids)[ids[0]].title == "Corrected headline"
    # so is a retraction, an embargo and a deletion
    Article.objects.filter(pk=ids[1]).update(status="retracted")
    Article.objects.filter(pk=ids[2]).update(embargo_until=timezone.now() + timedelta(hours=1))
    Article.objects.filter(pk=ids[3]).delete()
    assert set(selectors.articles_live_by_id(ids=ids)) == {ids[0], ids[4]}
    # and the front page shows the corrected headline to every reader
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    Article.objects.filter(pk=ids[4]).update(title="Late correction")
    html = Client().get("/").content.decode()
    assert "Late correction" in html
    assert "Corrected headline" in html


# --- Story cards ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cards_escape_titles_and_carry_a_working_hide_form() -> None:
    tricky = make_article(title='Fish & "chips" <b>now</b>', lead="A lead " * 40, section="Food")
    client = Client()
    html = client.get("/").content.decode()
    card = html.split(f'data-newsrec-article="{tricky.pk}"', 1)[1].split("</li>", 1)[0]
    escaped = "Fish &amp; &quot;chips&quot; &lt;b&gt;now&lt;/b&gt;"
    assert f'<a href="/articles/{tricky.pk}/">{escaped}</a>' in card
    assert f"in “{escaped}”</span>" in card
    assert "<b>now" not in card
    lead = re.search(r'<p class="card__lead">([^<]*)</p>', card)
    assert lead is not None
    assert lead.group(1).endswith(" …")
    assert len(lead.group(1).split()) == 33  # 32 words and the ellipsis
    assert '<input type="hidden" name="surface" value="home">' in card
    assert '<input type="hidden" name="next" value="/">' in card
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', card)
    assert token is not None
    response = client.post(
        "/not-interested/",
        {"article": tricky.pk, "next": "/", "csrfmiddlewaretoken": token.group(1)},
    )
    assert response.status_code == 302
    assert f'data-newsrec-article="{tricky.pk}"' not in client.get("/").content.decode()


@pytest.mark.parametrize(
    "age",
    [
        timedelta(seconds=30),
        timedelta(minutes=1, seconds=30),
        timedelta(minutes=59, seconds=30),
        timedelta(hours=1, minutes=1),
        timedelta(hours=23, minutes=59),
        timedelta(days=1, minutes=1),
        timedelta(days=6, hours=23),
        timedelta(days=7, seconds=-30),
        timedelta(days=7, minutes=1),
        timedelta(days=400),
    ],
)
def test_time_ago_reads_as_timesince_did(age: timedelta) -> None:
    moment = timezone.now() - age
    if age < timedelta(minutes=1):
        expected = "just now"
    elif age > timedelta(days=7):
        expected = moment.strftime("%-d %B %Y")
    else:
        expected = f"{timesince(moment, depth=1)} ago"
    assert newsrec_ago(moment) == expected


# --- Feed JSON and reader look-ups ----------------------------------------------------------------


def test_feed_json_is_what_the_serializer_gives() -> None:
    items = [
        {"article_id": 7, "title": "Tram vote", "section": "", "published_at": 1.5, "score": 1,
         "source": "because_you_read", "reason": "Because you read Storm", "seed_id": 3,
         "breakdown": {"score": 1.0}},
        {"article_id": 8, "title": "Storm", "section": "Weather", "score": 0.25,
         "source": "trending", "reason": "Trending now", "seed_id": None},
        {"article_id": 9, "title": "Old shape", "section": "News", "score": 0.5,
         "source": "latest", "reason": ""},  # written before seed_id existed
    ]  # fmt: skip
    view = feeds.FeedView(
        key="reader:1", items=items, rules_version=4, built_at=timezone.now(), version=12,
        personalised=True, experiment="e1v2",
    )  # fmt: skip
    expected = FeedSerializer(
        {
            "personalised": view.personalised,
            "recommendation_id": view.recommendation_id,
            "rules_version": view.rules_version,
            "built_at": view.built_at,
            "version": view.version,
            "items": _items(view),
        }
    ).data
    assert json.dumps(feed_data(view)) == json.dumps(expected)


@pytest.mark.django_db
def test_an_existing_reader_is_found_with_one_query(django_assert_num_queries: Any) -> None:
    existing = readers.reader_for_client_id(client_id="crm-42")
    with django_assert_num_queries(1):
        assert readers.reader_for_client_id(client_id="crm-42").pk == existing.pk
    assert Reader.objects.filter(client_id="api:crm-42").count() == 1


@pytest.mark.django_db
def test_section_links_are_reversed_once_and_follow_the_script_prefix() -> None:
    from django.urls import reverse, set_script_prefix

    from newsrec.templatetags.newsrec import newsrec_section_url

    assert newsrec_section_url("Weird News") == reverse("newsrec:section", args=["Weird News"])
    assert newsrec_section_url("Weird News").endswith("/section/Weird%20News/")
    set_script_prefix("/news/")  # a host mounting the site under a prefix
    try:
        assert newsrec_section_url("Sport").startswith("/news/")
    finally:
        set_script_prefix("/")
    assert not newsrec_section_url("Sport").startswith("/news/")
