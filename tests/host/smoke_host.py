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


def test_the_api_keeps_its_own_behaviour_under_the_hosts_drf_defaults() -> None:
    """The host's REST_FRAMEWORK (admins only, page-number pages, the browsable renderer) is its
    own: newsrec's views declare their authentication, permissions, throttles, parsers,
    renderers and error shape themselves."""
    from newsrec.api.authentication import api_key_create

    Story.objects.create(headline="A story", standfirst="A lead.", desk="Politics")
    Article.objects.update(status="published")
    _, raw = api_key_create(name="cms", scopes=["manage-rules", "write-events"])
    server = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    rule_sets = server.get("/api/v1/rules/sets/")
    assert rule_sets.status_code == 200
    assert rule_sets["Content-Type"] == "application/json"
    assert isinstance(rule_sets.json(), list)  # not wrapped in the host's pages
    bad = server.post("/api/v1/events/", {"events": [{"kind": "nope"}]}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()) == {"code", "message", "errors"}
    anonymous = APIClient().get("/api/v1/feeds/me/", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert anonymous.status_code == 200  # readers are not admins
    assert anonymous["Content-Type"] == "application/json"
