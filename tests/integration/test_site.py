"""The reader site: pages, "Not interested", privacy controls, sanitised bodies, template tags."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, cast

import numpy as np
import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client, RequestFactory
from django.utils import timezone

from editorial.compiler import read_rules
from editorial.experiments.selectors import running_experiment
from editorial.nudges import nudge_policies
from newsrec import feeds, profiles, readers, selectors
from newsrec.engine.rules import Rules
from newsrec.models import Article, Event, EventKind, Feed, Reader, ReaderProfile
from newsrec.templatetags.newsrec import body_html, newsrec_ago
from tests.factories import ReaderFactory, make_article

pytestmark = pytest.mark.django_db
SECTIONS = ["Sport", "Politics", "Culture", "Science"]
PAGE_LIMIT = 300 * 1024


def _vector(seed: int) -> np.ndarray:
    """Articles of one section share a direction, as real embeddings of a topic do."""
    base = np.random.default_rng(1000 + seed % 4).normal(size=384)
    v = (base + 0.8 * np.random.default_rng(seed).normal(size=384)).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def catalogue() -> list[Article]:
    feeds.pool_cache_clear()
    now = timezone.now()
    return [
        make_article(
            title=f"{SECTIONS[i % 4]} story {i}",
            lead=f"What happened in story {i}.",
            body=f"First paragraph of story {i}.\n\nSecond paragraph.",
            section=SECTIONS[i % 4],
            embedding=_vector(i),
            embedding_status="ready",
            published_at=now - timedelta(hours=i + 1),
        )
        for i in range(32)
    ]


def _rebuild(*, reader_ids: list[int], include_default: bool = False) -> None:
    # Empty rules: these tests are about the pages, not the editors' rules (tested elsewhere).
    feeds.feeds_rebuild(reader_ids=reader_ids, include_default=include_default, rules=Rules())


@pytest.fixture(autouse=True)
def _no_profile_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Profile updates are the worker's job (tests/e2e); here the services are called directly.
    monkeypatch.setattr(profiles, "profile_schedule", lambda **kw: False)


def _visitor_who_finished(client: Client, articles: list[Article]) -> None:
    """A browser visitor (cookie reader) who read ``articles`` to the end."""
    now = timezone.now()
    events = [
        {"event_id": f"f{a.pk}", "kind": "finish", "article_id": a.pk,
         "occurred_at": (now - timedelta(minutes=n)).isoformat()}
        for n, a in enumerate(articles)
    ]  # fmt: skip
    response = client.post("/api/v1/events/", {"events": events}, content_type="application/json")
    assert response.status_code == 200, response.content


def _reader_of(client: Client) -> Reader:
    request = RequestFactory().get("/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    reader, _ = readers.reader_for_request(request, create=False)
    assert reader is not None
    return reader


def _personalised(client: Client, articles: list[Article]) -> Reader:
    _visitor_who_finished(client, articles)
    reader = _reader_of(client)
    profiles.profile_rebuild(reader_id=reader.pk)
    _rebuild(reader_ids=[reader.pk], include_default=True)
    return reader


def _card_ids(html: str, heading_id: str) -> list[int]:
    """Article ids of the cards in the section labelled by ``heading_id``."""
    block = html.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]
    return [
        int(x) for x in re.findall(r'<li class="card[^"]*" data-newsrec-article="(\d+)"', block)
    ]


def _assert_self_contained(html: str) -> None:
    """No third-party requests: every script, stylesheet and image comes from this site."""
    for url in re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "data:")), url
    assert len(html.encode()) < PAGE_LIMIT


# --- Home --------------------------------------------------------------------------------------


def test_home_without_any_feed_shows_the_latest_articles(catalogue: list[Article]) -> None:
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="skip" href="#main"' in html
    assert '<main id="main"' in html
    assert "Top stories" in html
    assert _card_ids(html, "for-you-heading")[:3] == [a.pk for a in catalogue[:3]]
    nav = html.split('aria-label="Sections"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'href="/section/(\w+)/"', nav) == sorted(SECTIONS)  # each once
    for name in SECTIONS:  # section blocks
        assert f'<a href="/section/{name}/">{name}</a></h2>' in html
    assert 'src="/static/newsrec/newsrec.js"' in html
    assert 'data-endpoint="/api/v1/events/"' in html
    _assert_self_contained(html)


def test_home_serves_the_default_feed_to_new_visitors(catalogue: list[Article]) -> None:
    _rebuild(reader_ids=[], include_default=True)
    html = Client().get("/").content.decode()
    assert "Top stories" in html
    cards = _card_ids(html, "for-you-heading")
    stored = [item["article_id"] for item in Feed.objects.get(key="default").items]
    assert cards == stored[: len(cards)]
    assert 'class="reason"' in html
    assert html.count('action="/not-interested/"') >= len(cards)
    assert "Because you read" not in html


def test_home_is_personalised_with_because_you_read_rails(catalogue: list[Article]) -> None:
    client = Client()
    seed = catalogue[0]
    _personalised(client, [seed])
    html = client.get("/").content.decode()
    assert "For you" in html
    assert f'Because you read <a href="/articles/{seed.pk}/">{seed.title}</a>' in html
    rail = _card_ids(html, "byr-1")
    assert rail
    assert seed.pk not in rail
    # Rails and "For you" never repeat a story.
    assert not set(rail) & set(_card_ids(html, "for-you-heading"))


def test_a_retracted_story_never_headlines_a_rail(catalogue: list[Article]) -> None:
    """Site and API group rails alike (feeds.rails_group): a seed no longer live names none."""
    client = Client()
    seed = catalogue[0]
    _personalised(client, [seed])
    assert f'Because you read <a href="/articles/{seed.pk}/">' in client.get("/").content.decode()
    Article.objects.filter(pk=seed.pk).update(status="retracted")  # no signal: the feed stays
    selectors.shared_reads_clear()
    html = client.get("/").content.decode()
    assert 'id="byr-1"' not in html  # no rail: before, one named by its items' reason line


def test_a_withdrawn_story_is_no_longer_named_in_the_reasons_of_a_feed(
    catalogue: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client()
    seed = catalogue[0]
    _personalised(client, [seed])
    named = f"Because you read {seed.title}"
    assert named in client.get("/").content.decode()
    Article.objects.filter(pk=seed.pk).update(status="retracted")
    # what the retraction's feeds.articles_withdraw tells every process until the rebuild
    monkeypatch.setattr(feeds.withdrawn, "withdrawn_ids", lambda: frozenset({seed.pk}))
    selectors.shared_reads_clear()
    html = client.get("/").content.decode()
    assert named not in html
    assert "Because of your recent reading" in html
    items = client.get("/api/v1/feeds/me/").json()["items"]
    assert not [i for i in items if seed.title in i["reason"]]


def test_trending_ranks_by_recent_clicks(catalogue: list[Article]) -> None:
    reader = cast(Reader, ReaderFactory.create())
    popular = catalogue[20]
    for n in range(3):
        Event.objects.create(
            reader=reader, event_id=f"c{n}", kind=EventKind.CLICK, article=popular,
            occurred_at=timezone.now(),
        )  # fmt: skip
    html = Client().get("/").content.decode()
    assert _card_ids(html, "trending-heading")[0] == popular.pk


# --- Not interested ----------------------------------------------------------------------------


def _hide(client: Client, article: Article, **extra: Any) -> Any:
    client.get("/")  # sets the CSRF cookie, as a browser has it
    token = client.cookies["csrftoken"].value
    return client.post(
        "/not-interested/",
        {"article": article.pk, "next": "/section/Sport/", "csrfmiddlewaretoken": token},
        **extra,
    )


def test_not_interested_without_javascript_hides_at_once_and_queues_a_rebuild(
    catalogue: list[Article], django_capture_on_commit_callbacks: Any
) -> None:
    _rebuild(reader_ids=[], include_default=True)
    client = Client(enforce_csrf_checks=True)
    first = _card_ids(client.get("/").content.decode(), "for-you-heading")[0]
    target = Article.objects.get(pk=first)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _hide(client, target)
    assert response.status_code == 302
    assert response["Location"] == "/section/Sport/"
    assert readers.COOKIE_NAME in response.cookies  # a new visitor became a reader
    reader = _reader_of(client)
    assert Event.objects.filter(reader=reader, kind=EventKind.HIDE, article=target).count() == 1
    assert len(callbacks) == 1  # feeds_rebuild_readers.delay([reader.pk]) after commit
    html = client.get("/").content.decode()
    assert target.pk not in _card_ids(html, "for-you-heading")
    assert f'data-newsrec-article="{target.pk}"' not in html
    # The rebuild the task runs leaves it out too.
    _rebuild(reader_ids=[reader.pk])
    assert target.pk not in [i["article_id"] for i in Feed.objects.get(reader=reader).items]
    # Hiding again is the same event.
    assert _hide(client, target).status_code == 302
    assert Event.objects.filter(reader=reader, kind=EventKind.HIDE).count() == 1


def test_not_interested_answers_json_for_fetch(catalogue: list[Article]) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _hide(client, catalogue[3], HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "hidden": catalogue[3].pk,
        "message": f"Removed “{catalogue[3].title}”. You will see fewer stories like that one.",
        "undo": "/not-interested/undo/",
    }


def _undo(client: Client, article: Article, **extra: Any) -> Any:
    token = client.cookies["csrftoken"].value
    return client.post(
        "/not-interested/undo/",
        {"article": article.pk, "next": "/section/Sport/", "csrfmiddlewaretoken": token},
        **extra,
    )


def test_not_interested_confirms_visibly_and_undo_erases_the_hide(
    catalogue: list[Article], django_capture_on_commit_callbacks: Any
) -> None:
    """#17.8: the notice after a hide (no JavaScript) names the story and has an Undo button."""
    _rebuild(reader_ids=[], include_default=True)
    client = Client(enforce_csrf_checks=True)
    target = Article.objects.get(
        pk=_card_ids(client.get("/").content.decode(), "for-you-heading")[0]
    )
    page = client.get(_hide(client, target)["Location"]).content.decode()
    notice = page.split('class="notices"', 1)[1].split("</div>\n", 1)[0]
    assert f"Removed “{target.title}”. You will see fewer stories like that one." in notice
    assert 'action="/not-interested/undo/"' in notice
    assert f'name="article" value="{target.pk}"' in notice
    assert 'name="next" value="/section/Sport/"' in notice
    assert '<button type="submit" class="undo__button">Undo' in notice
    reader = _reader_of(client)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _undo(client, target)
    assert response.status_code == 302
    assert response["Location"] == "/section/Sport/"
    assert not Event.objects.filter(reader=reader, kind=EventKind.HIDE).exists()
    assert len(callbacks) == 1  # the feed rebuild, as after a hide
    page = client.get("/").content.decode()
    assert f"Undone: “{target.title}” can show up in your feeds again." in page
    assert target.pk in _card_ids(page, "for-you-heading")
    # Fetch gets JSON; undoing what was not hidden changes nothing and says so.
    response = _undo(client, target, HTTP_ACCEPT="application/json")
    assert response.json() == {"restored": None, "message": "There was nothing to undo."}


def test_undo_needs_csrf_and_post_and_touches_only_the_readers_own_hide(
    catalogue: list[Article],
) -> None:
    client = Client(enforce_csrf_checks=True)
    _hide(client, catalogue[0])
    assert client.post("/not-interested/undo/", {"article": catalogue[0].pk}).status_code == 403
    assert client.get("/not-interested/undo/").status_code == 405
    other = Client(enforce_csrf_checks=True)
    other.get("/")
    assert _undo(other, catalogue[0]).status_code == 302
    assert Event.objects.filter(kind=EventKind.HIDE).count() == 1
    assert Reader.objects.count() == 1  # undo makes no reader of a new visitor
    assert Client().post("/not-interested/undo/", {"article": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"article": "abc"}, 400),
        ({}, 400),
        ({"article": "999999999"}, 404),
        ({"article": "-1"}, 400),
    ],
)
def test_not_interested_rejects_bad_input_clearly(
    catalogue: list[Article], data: dict[str, str], status: int
) -> None:
    response = Client().post("/not-interested/", data)
    assert response.status_code == status
    assert b"Traceback" not in response.content
    assert b"<h1>Something was not right</h1>" in response.content


def test_not_interested_needs_csrf_and_post_and_never_redirects_off_site(
    catalogue: list[Article],
) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/not-interested/", {"article": catalogue[0].pk}).status_code == 403
    assert client.get("/not-interested/").status_code == 405
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/not-interested/",
        {"article": catalogue[0].pk, "next": "https://evil.example/", "csrfmiddlewaretoken": token},
    )
    assert response["Location"] == "/"


# --- Article and section pages -----------------------------------------------------------------


def test_article_page_has_body_related_more_and_continue_reading(catalogue: list[Article]) -> None:
    _rebuild(reader_ids=[], include_default=True)
    article = catalogue[4]  # Sport
    response = Client().get(f"/articles/{article.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-newsrec-read="{article.pk}"' in html
    assert "<p>First paragraph of story 4.</p>\n<p>Second paragraph.</p>" in html
    related = html.split('id="related-heading"', 1)[1].split("</section>", 1)[0]
    assert related.count("<li ") == 6
    assert "More from Sport" in html
    more = html.split('id="more-heading"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r"Sport story \d+", more)
    assert "Continue reading" in html
    assert _card_ids(html, "continue-heading")
    assert article.pk not in _card_ids(html, "continue-heading")
    _assert_self_contained(html)
    assert Client().get("/articles/999999/").status_code == 404


def test_article_html_bodies_are_sanitised(catalogue: list[Article]) -> None:
    article = catalogue[0]
    article.body = (
        '<p onclick="steal()">Safe <strong>bold</strong></p><script>alert(1)</script>'
        '<img src="/media/a.jpg" alt="Harbour" onerror="alert(2)">'
        '<a href="javascript:alert(3)">bad</a><a href="https://example.org/x">ok</a>'
        "<iframe src='https://evil.example'></iframe><style>body{}</style>"
    )
    article.save()
    html = Client().get(f"/articles/{article.pk}/").content.decode()
    body = html.split('class="article__body">', 1)[1].split("</div>", 1)[0]
    assert "<p>Safe <strong>bold</strong></p>" in body
    for bad in ("<script", "alert(", "onclick", "onerror", "javascript:", "<iframe", "<style"):
        assert bad not in body
    assert 'alt="Harbour"' in body
    assert 'rel="noopener noreferrer nofollow"' in body


def test_plain_text_bodies_are_escaped_paragraphs() -> None:
    assert str(body_html("Tom & Jerry > cats\n\n  Second  ")) == (
        "<p>Tom &amp; Jerry &gt; cats</p>\n<p>Second</p>"
    )
    assert str(body_html("")) == ""
    assert newsrec_ago(timezone.now()) == "just now"
    assert newsrec_ago(timezone.now() - timedelta(hours=3, minutes=5)) == "3\xa0hours ago"
    assert newsrec_ago(None) == ""


def test_section_page_puts_feed_items_first_then_the_latest(catalogue: list[Article]) -> None:
    client = Client()
    _personalised(client, [catalogue[0], catalogue[4]])  # two Sport stories read
    response = client.get("/section/Sport/")
    assert response.status_code == 200
    html = response.content.decode()
    ids = [int(x) for x in re.findall(r'<li class="card" data-newsrec-article="(\d+)"', html)]
    sport = {a.pk for a in catalogue if a.section == "Sport"}
    assert set(ids) <= sport
    assert len(ids) == len(set(ids))
    assert set(ids) == sport  # topped up to every live Sport story
    # Feed items (with their reason and slot) come first.
    first_card = html.split('<li class="card"', 1)[1].split("</li>", 1)[0]
    assert 'data-newsrec-slot="' in first_card
    assert Client().get("/section/Nope/").status_code == 404
    assert Client().get("/?section=Sport").headers["Location"] == "/section/Sport/"


# --- Privacy -----------------------------------------------------------------------------------


def _csrf(client: Client) -> str:
    client.get("/privacy/")
    return client.cookies["csrftoken"].value


def test_opting_out_switches_the_home_page_to_the_default_feed(catalogue: list[Article]) -> None:
    client = Client(enforce_csrf_checks=True)
    reader = _personalised(client, [catalogue[0]])
    assert "For you" in client.get("/").content.decode()
    assert "Personalisation is <strong data-personalisation>on</strong>" in (
        client.get("/privacy/").content.decode()
    )
    response = client.post(
        "/privacy/personalisation/", {"enabled": "off", "csrfmiddlewaretoken": _csrf(client)}
    )
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.personalisation_enabled is False
    assert not ReaderProfile.objects.filter(reader=reader).exists()
    page = client.get("/privacy/").content.decode()
    assert "Personalisation is <strong data-personalisation>off</strong>" in page
    assert "you now see the same front page as everyone else" in page
    html = client.get("/").content.decode()
    assert "Top stories" in html
    assert "Because you read" not in html
    client.post(
        "/privacy/personalisation/", {"enabled": "on", "csrfmiddlewaretoken": _csrf(client)}
    )
    reader.refresh_from_db()
    assert reader.personalisation_enabled is True
    bad = client.post(
        "/privacy/personalisation/", {"enabled": "maybe", "csrfmiddlewaretoken": _csrf(client)}
    )
    assert bad.status_code == 400


def test_a_new_visitor_can_opt_out_before_reading_anything(catalogue: list[Article]) -> None:
    client = Client()
    response = client.post("/privacy/personalisation/", {"enabled": "off"})
    assert readers.COOKIE_NAME in response.cookies
    assert _reader_of(client).personalisation_enabled is False


def test_export_downloads_everything_stored(catalogue: list[Article]) -> None:
    client = Client()
    empty = client.get("/privacy/export/")
    assert json.loads(empty.content) == {
        "reader": None, "events": [], "profile": None, "interests": None
    }  # fmt: skip
    reader = _personalised(client, [catalogue[0]])
    response = client.get("/privacy/export/")
    assert response["Content-Disposition"] == 'attachment; filename="newsrec-my-data.json"'
    assert response["Cache-Control"] == "private, no-store"
    data = json.loads(response.content)
    assert data["reader"]["id"] == str(reader.public_id)
    assert [e["article_id"] for e in data["events"]] == [catalogue[0].pk]
    assert data["profile"]["section_affinity"]


def test_erase_needs_confirmation_then_removes_the_reader(catalogue: list[Article]) -> None:
    client = Client(enforce_csrf_checks=True)
    reader = _personalised(client, [catalogue[0]])
    unconfirmed = client.post("/privacy/erase/", {"csrfmiddlewaretoken": _csrf(client)})
    assert unconfirmed.status_code == 400
    assert 'role="alert">Tick the box to confirm' in unconfirmed.content.decode()
    assert Reader.objects.filter(pk=reader.pk).exists()
    response = client.post(
        "/privacy/erase/", {"confirm": "on", "csrfmiddlewaretoken": _csrf(client)}
    )
    assert response.status_code == 302
    assert not Reader.objects.filter(pk=reader.pk).exists()
    assert not Event.objects.filter(reader_id=reader.pk).exists()
    assert response.cookies[readers.COOKIE_NAME].value == ""
    page = client.get("/privacy/").content.decode()
    assert "has been erased" in page
    assert "Nothing yet" in page


# --- Template tags for host sites --------------------------------------------------------------


def test_newsrec_feed_tag_takes_a_request_or_a_reader(catalogue: list[Article]) -> None:
    client = Client()
    reader = _personalised(client, [catalogue[0]])
    template = Template("{% load newsrec %}{% newsrec_feed who limit=3 %}")
    request = RequestFactory().get("/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    by_request = template.render(Context({"who": request, "request": request}))
    by_reader = template.render(Context({"who": reader}))
    assert by_request == by_reader
    assert "For you" in by_reader
    assert by_reader.count("<li ") == 3
    stored = [i["article_id"] for i in Feed.objects.get(reader=reader).items[:3]]
    assert re.findall(r'data-newsrec-article="(\d+)"', by_reader) == [str(i) for i in stored]
    anonymous = template.render(Context({"who": None}))
    assert "Top stories" in anonymous
    with pytest.raises(TemplateSyntaxError, match="Reader, a request or None"):
        template.render(Context({"who": "someone"}))


def test_newsrec_related_tag(catalogue: list[Article]) -> None:
    template = Template("{% load newsrec %}{% newsrec_related article limit=4 %}")
    html = template.render(Context({"article": catalogue[0]}))
    assert html.count("<li ") == 4
    assert f'data-newsrec-article="{catalogue[0].pk}"' not in html
    assert template.render(Context({"article": catalogue[0].pk})) == html
    assert "<li" not in template.render(Context({"article": None}))
    with pytest.raises(TemplateSyntaxError, match=r"registered with newsrec\.registry"):
        template.render(Context({"article": object()}))


@pytest.mark.parametrize(
    ("path", "queries"),
    # the front page's "Pick up where you left off" costs 2: the reader's recent reads, their
    # articles
    [("/", 8), ("/articles/{pk}/", 13), ("/section/Sport/", 6), ("/privacy/", 5)],
)
def test_pages_need_a_fixed_number_of_queries(
    catalogue: list[Article], django_assert_max_num_queries: Any, path: str, queries: int
) -> None:
    """Query counts do not grow with the feed, the rails or the number of sections."""
    client = Client()
    _personalised(client, catalogue[:3])
    running_experiment()  # looked up once per process every few seconds, not once per page
    read_rules()  # the live rule sets: likewise
    nudge_policies()  # the editors' nudge settings: likewise
    with django_assert_max_num_queries(queries):
        assert client.get(path.format(pk=catalogue[5].pk)).status_code == 200
