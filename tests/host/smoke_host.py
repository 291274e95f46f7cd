"""The host project's smoke flow (run by tests/unit/test_host_project.py in its own process, with
tests.host.settings): mirror a CMS model, embed, rebuild, read the feed, publish a rule."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from editorial import services as editorial_services
from editorial.compiler import live_rules_memo_clear
from editorial.models import Rule, RuleSet
from newsrec import feeds, selectors
from newsrec.models import Article, EmbeddingStatus
from tests.host.cms.models import Story

pytestmark = pytest.mark.django_db(transaction=True)

DESKS = ["Politics", "Sport", "Culture"]


def test_a_host_project_mirrors_embeds_ranks_and_obeys_a_rule(settings: Any) -> None:
    stories = [
        Story.objects.create(headline=f"{DESKS[n % 3]} story {n}", standfirst="A lead.",
                             desk=DESKS[n % 3])
        for n in range(9)
    ]  # fmt: skip
    # mirrored on commit, embedded by the (eager) Celery task
    assert Article.objects.count() == len(stories)
    assert set(Article.objects.values_list("embedding_status", flat=True)) == {
        EmbeddingStatus.READY
    }
    Article.objects.update(status="published")
    feeds.pool_cache_clear()
    feeds.feeds_rebuild(reader_ids=[], include_default=True)
    body = APIClient().get("/api/v1/feeds/me/").json()
    assert len(body["items"]) == len(stories)
    assert body["items"][0]["url"].startswith("/news/articles/")  # reversed, where mounted

    editor = get_user_model().objects.create_user(
        username="ed", password="a-long-password-1", is_staff=True, is_superuser=True
    )
    rule_set = RuleSet.objects.create(name="Default")
    Rule.objects.create(rule_set=rule_set, kind="block", target_field="section",
                        target_value="Sport")  # fmt: skip
    editorial_services.ruleset_publish(rule_set=rule_set, user=editor)
    live_rules_memo_clear()
    selectors.shared_reads_clear()
    sections = {i["section"] for i in APIClient().get("/api/v1/feeds/me/").json()["items"]}
    assert sections == {"Politics", "Culture"}
    page = Client().get("/news/")
    assert page.status_code == 200
    assert "Sport story" not in page.content.decode()
    client = Client()
    client.force_login(editor)
    assert client.get("/admin/editorial/ruleset/dashboard/").status_code == 200
