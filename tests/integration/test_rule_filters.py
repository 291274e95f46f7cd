"""The editors' hard filters on the surfaces that query articles directly: related articles,
the trending list and the newest-first feed obey them exactly as the engine does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from editorial import services
from editorial.compiler import live_rules_memo_clear
from editorial.models import Rule, RuleSet
from newsrec import feeds, selectors
from newsrec.engine.rules import Filters, allowed_mask
from newsrec.engine.types import Context
from newsrec.models import Article, Event, EventKind
from tests.factories import ReaderFactory, make_article, topic_vector

pytestmark = pytest.mark.django_db

SECTIONS = ["Sport", "Politics", "Culture"]
TAGS = ["election", "football", "opera", "budget"]
AUTHORS = ["Ada", "Grace", "Alan"]


@pytest.fixture
def catalogue() -> list[Article]:
    """Embedded live articles with sections, tags and authors, 3 hours apart."""
    now = timezone.now()
    return [
        make_article(
            title=f"Story {i}",
            section=SECTIONS[i % 3],
            tags=[TAGS[i % 4], TAGS[(i + 1) % 4]] if i % 5 else [],
            authors=[AUTHORS[i % 3]],
            embedding=topic_vector(i, topics=3),
            embedding_status="ready",
            published_at=now - timedelta(hours=3 * i + 1),
        )
        for i in range(30)
    ]


filters_strategy = st.builds(
    Filters,
    blocked_sections=st.frozensets(st.sampled_from(SECTIONS), max_size=2),
    blocked_tags=st.frozensets(st.sampled_from(TAGS), max_size=2),
    blocked_authors=st.frozensets(st.sampled_from(AUTHORS), max_size=1),
    blocked_articles=st.frozensets(st.integers(0, 29), max_size=3),
    max_age_hours=st.one_of(st.none(), st.floats(min_value=2, max_value=100)),
    max_age_hours_by_section=st.dictionaries(
        st.sampled_from(SECTIONS), st.floats(min_value=2, max_value=100), max_size=2
    ),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters=filters_strategy)
def test_the_sql_filters_keep_exactly_what_the_engine_allows(
    catalogue: list[Article], filters: Filters
) -> None:
    # blocked_articles name catalogue positions: map them to ids
    filters = Filters(
        **{**filters.__dict__, "blocked_articles": frozenset(
            catalogue[i].pk for i in filters.blocked_articles
        )},
    )  # fmt: skip
    now = timezone.now()
    pool = feeds.pool_load(now=now.timestamp())
    mask = allowed_mask(pool, filters, Context(now=now.timestamp()))
    engine = {int(i) for i in pool.ids[mask]}
    sql = Article.objects.published().allowed_by(filters, now=now)
    assert set(sql.values_list("pk", flat=True)) == engine
    one_by_one = {  # Filters.excludes: the same filters, one article at a time
        a.pk for a in catalogue
        if not filters.excludes(
            article_id=a.pk, section=a.section, tags=a.tags, authors=a.authors,
            published_at=a.published_at.timestamp() if a.published_at else None,
            now=now.timestamp(),
        )
    }  # fmt: skip
    assert one_by_one == engine


def _site_rules(*rows: dict[str, Any]) -> None:
    rule_set = RuleSet.objects.create(name="Site")
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    services.ruleset_publish(rule_set=rule_set)
    live_rules_memo_clear()  # what the commit does (tests run inside one transaction)


def test_related_articles_leave_out_what_the_editors_block(catalogue: list[Article]) -> None:
    article = catalogue[0]  # Sport
    before = selectors.article_related(article=article, limit=5)
    nearest = before[0]
    assert nearest.section == "Sport"  # same topic: its neighbours are mostly Sport
    _site_rules(
        {"kind": "block", "target_field": "article", "target_value": str(nearest.pk)},
        {"kind": "block", "target_field": "section", "target_value": "Culture"},
    )
    after = selectors.article_related(article=article, limit=5)
    assert len(after) == 5
    assert nearest not in after
    assert all(a.section != "Culture" for a in after)
    body = APIClient().get(f"/api/v1/articles/{article.pk}/related/?limit=5").json()
    assert [r["id"] for r in body] == [a.pk for a in after]


def test_trending_leaves_out_what_the_editors_block(catalogue: list[Article]) -> None:
    reader = ReaderFactory.create()
    for n, (article, clicks) in enumerate(zip(catalogue[:3], (5, 3, 1), strict=True)):
        for k in range(clicks):
            Event.objects.create(
                reader=reader, event_id=f"c{n}-{k}", kind=EventKind.CLICK, article=article,
                occurred_at=timezone.now() - timedelta(minutes=k + 1),
            )  # fmt: skip
    assert selectors.articles_trending(limit=3) == catalogue[:3]
    _site_rules({"kind": "block", "target_field": "author", "target_value": AUTHORS[0]})
    assert selectors.articles_trending(limit=3) == catalogue[1:3]  # catalogue[0] is by Ada


def test_continue_reading_falls_back_to_the_newest_allowed(catalogue: list[Article]) -> None:
    from newsrec.views import _latest_cards

    _site_rules({"kind": "block", "target_field": "section", "target_value": "Sport"})
    cards = _latest_cards(exclude={catalogue[1].pk}, limit=4)
    assert [c.article.pk for c in cards] == [a.pk for a in catalogue[2:8] if a.section != "Sport"]


def test_related_articles_fill_the_list_when_a_whole_neighbourhood_is_blocked() -> None:
    # 90 near copies of the article's own topic, all in a blocked section, then two allowed
    # articles further away: related must reach past the blocked ones. (It looked at the
    # nearest 4x, then 40x ``limit`` neighbours only, and came back empty here.)
    seed = topic_vector(0, topics=2)
    rng = np.random.default_rng(7)
    near = [(seed + 0.05 * rng.normal(size=384)).astype(np.float32) for _ in range(91)]
    article, *_copies = [
        make_article(section="Sport", embedding=v / np.linalg.norm(v), embedding_status="ready")
        for v in near
    ]
    allowed = [
        make_article(
            section="Culture", embedding=topic_vector(n, topics=2), embedding_status="ready"
        )
        for n in (1, 3)
    ]
    _site_rules({"kind": "block", "target_field": "section", "target_value": "Sport"})
    related = selectors.article_related(article=article, limit=2)
    assert {a.pk for a in related} == {a.pk for a in allowed}
