"""#13.6: the ranker and its candidate sources are settings that every ranking path honours."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error
from django.test import override_settings

from editorial.models import RuleSet
from editorial.preview import preview_reader
from newsrec import feeds
from newsrec.checks import check_ranker
from newsrec.engine.types import ReaderState
from newsrec.models import Feed
from tests.factories import make_catalogue
from tests.testapp.ranking import CountingRanker

pytestmark = pytest.mark.django_db


@pytest.fixture
def host_ranking(settings: Any) -> None:
    settings.NEWSREC = {
        **settings.NEWSREC,
        "RANKER": "tests.testapp.ranking.CountingRanker",
        "CANDIDATE_SOURCES": ["tests.testapp.ranking.LongReadsSource"],
    }
    feeds.pool_cache_clear()


def test_rebuilds_and_previews_rank_with_the_configured_ranker_and_sources(
    host_ranking: None,
) -> None:
    make_catalogue(["Long reads", "Sport", "Politics"], 30)
    built = CountingRanker.built
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    items = Feed.objects.get(key=feeds.DEFAULT_FEED_KEY).items
    assert items
    assert {i["section"] for i in items} == {"Long reads"}
    assert {i["source"] for i in items} == {"long_reads"}
    assert {i["reason"] for i in items} == {"A long read for the weekend"}
    preview = preview_reader(rule_set=RuleSet.objects.create(name="Draft"),
                             state=ReaderState(reader_id="default"))  # fmt: skip
    assert {i.source for i in preview.draft.items} == {"long_reads"}
    assert CountingRanker.built == built + 2


def test_a_host_ranker_replacing_rank_many_still_rebuilds_feeds(settings: Any) -> None:
    settings.NEWSREC = {**settings.NEWSREC, "RANKER": "tests.testapp.ranking.WholeRanker"}
    feeds.pool_cache_clear()
    make_catalogue(["Sport", "Politics"], 20)
    stats = feeds.feeds_rebuild(reader_ids=[], include_default=True)
    assert stats.written == 1
    assert Feed.objects.get(key=feeds.DEFAULT_FEED_KEY).items
    assert {"load", "store"} <= set(stats.stages)  # the engine's own stages are its to time


@pytest.mark.parametrize(
    ("newsrec", "message"),
    [
        ({"RANKER": "tests.testapp.ranking.Nope"}, "cannot be imported"),
        ({"RANKER": "tests.testapp.ranking.LongReadsSource"}, "not a Ranker subclass"),
        ({"CANDIDATE_SOURCES": "tests.testapp.ranking.LongReadsSource"}, "must be a list"),
        ({"CANDIDATE_SOURCES": ["tests.testapp.ranking.CountingRanker"]}, "not a CandidateSource"),
        ({"CANDIDATE_SOURCES": ["tests.testapp.ranking.LongReadsSource"] * 2}, "distinct names"),
    ],
)
def test_a_ranker_or_source_that_cannot_work_fails_the_system_check(
    newsrec: dict[str, Any], message: str
) -> None:
    with override_settings(NEWSREC=newsrec):
        [error] = check_ranker()
    assert isinstance(error, Error)
    assert error.id == "newsrec.E004"
    assert message in error.msg


def test_the_default_ranking_passes_the_check() -> None:
    assert check_ranker() == []
