"""The rule set admin: editor-language forms, messages next to fields, stale saves, permissions."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from editorial import services
from editorial.models import AuditEntry, Rule, RuleSet, RuleSetStatus, RuleSetVersion
from tests.factories import make_article
from tests.integration.test_editorial_publish import make_user

pytestmark = pytest.mark.django_db
ADD = "/admin/editorial/ruleset/add/"


def change_url(rule_set: RuleSet) -> str:
    return f"/admin/editorial/ruleset/{rule_set.pk}/change/"


@pytest.fixture
def junior() -> User:
    return make_user("junior", "Editor")


@pytest.fixture
def senior() -> User:
    return make_user("senior", "Senior editor")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


RULE_DEFAULTS = {
    "kind": "", "enabled": "on", "target_field": "", "target_value": "", "strength": "",
    "factor": "", "slot": "", "hours": "", "max_per_value": "", "top_k": "", "mmr_lambda": "",
    "visitors": "all", "priority": "0", "valid_from_0": "", "valid_from_1": "",
    "valid_until_0": "", "valid_until_1": "", "note": "",
}  # fmt: skip


def form_data(
    rules: list[dict[str, Any]], *, rule_set: RuleSet | None = None, **fields: Any
) -> dict[str, Any]:
    """What the browser posts for a rule set with its rules (existing rules carry their id)."""
    existing = list(rule_set.rules.order_by("pk")) if rule_set else []
    versions = list(rule_set.versions.all()) if rule_set else []
    data: dict[str, Any] = {
        "name": rule_set.name if rule_set else "Election night",
        "description": "",
        "scope": rule_set.scope if rule_set else "site",
        "scope_value": rule_set.scope_value if rule_set else "",
        "starts_at_0": "", "starts_at_1": "", "ends_at_0": "", "ends_at_1": "",
        "revision": rule_set.revision if rule_set else "",
        "rules-TOTAL_FORMS": len(rules), "rules-INITIAL_FORMS": len(existing),
        "rules-MIN_NUM_FORMS": 0, "rules-MAX_NUM_FORMS": 1000,
        "versions-TOTAL_FORMS": len(versions), "versions-INITIAL_FORMS": len(versions),
        "versions-MIN_NUM_FORMS": 0, "versions-MAX_NUM_FORMS": 1000,
        **fields,
    }  # fmt: skip
    for i, version in enumerate(versions):
        data[f"versions-{i}-id"] = version.pk
        data[f"versions-{i}-rule_set"] = version.rule_set_id
    for i, rule in enumerate(rules):
        for key, value in {**RULE_DEFAULTS, **rule}.items():
            data[f"rules-{i}-{key}"] = value
        if i < len(existing):
            data[f"rules-{i}-id"] = existing[i].pk
            data[f"rules-{i}-rule_set"] = rule_set.pk  # type: ignore[union-attr]
    return data


def field_errors(response: Any) -> dict[str, list[str]]:
    """Errors shown next to each field: "name" for the set, "rules-0-slot" for a rule."""
    assert response.status_code == 200, response.status_code
    errors = {k: list(v) for k, v in response.context["adminform"].form.errors.items()}
    for formset in response.context["inline_admin_formsets"]:
        for form in formset.formset.forms:
            for name, messages in form.errors.items():
                errors[f"{form.prefix}-{name}"] = list(messages)
    return errors


def test_editor_words_become_factors_blocks_and_article_ids(junior: User) -> None:
    article = make_article(title="Polls close across the region")
    other = make_article(title="Live results map")
    data = form_data([
        {"kind": "boost", "target_field": "section", "target_value": "Politics",
         "strength": "3"},
        {"kind": "boost", "target_field": "tag", "target_value": "gossip", "strength": "never"},
        {"kind": "pin", "target_field": "article",
         "target_value": f"Polls close across the region [#{article.pk}]", "slot": "1",
         "devices": ["mobile", "desktop"]},
        {"kind": "pin", "target_field": "article", "target_value": "Live results map", "slot": "4", "valid_from_0": "2030-01-01", "valid_from_1": "20:00",
         "valid_until_0": "2030-01-02", "valid_until_1": "02:00"},
    ])  # fmt: skip
    response = logged_in(junior).post(ADD, data)
    assert response.status_code == 302, field_errors(response)
    rule_set = RuleSet.objects.get(name="Election night")
    assert rule_set.status == RuleSetStatus.DRAFT
    rows = list(rule_set.rules.order_by("pk").values_list("kind", "target_value", "factor"))
    assert rows == [
        ("boost", "Politics", 3.0),
        ("block", "gossip", None),
        ("pin", str(article.pk), None),
        ("pin", str(other.pk), None),
    ]
    assert rule_set.rules.filter(kind="pin", slot=1).get().devices == ["mobile", "desktop"]
    entry = AuditEntry.objects.filter(object_type="rule").first()
    assert entry is not None
    assert (entry.source, entry.username) == ("admin", "junior")
    # The change page shows the article by title again, with the time zone next to windows.
    page = logged_in(junior).get(change_url(rule_set)).content.decode()
    assert f"Polls close across the region [#{article.pk}]" in page
    assert "Times are in UTC" in page


@pytest.mark.parametrize(
    ("rules", "field", "message"),
    [
        ([{"kind": "pin", "target_field": "article", "target_value": "{a}", "slot": "2"},
          {"kind": "pin", "target_field": "article", "target_value": "{b}", "slot": "2"}],
         "rules-1-slot", "Slot 2 is already taken"),
        ([{"kind": "pin", "target_field": "article", "target_value": "{a}", "slot": "2",
           "valid_from_0": "2030-01-01", "valid_from_1": "10:00"},
          {"kind": "pin", "target_field": "article", "target_value": "{a}", "slot": "3"}],
         "rules-1-target_value", "already pinned"),
        ([{"kind": "cap", "target_field": "section", "max_per_value": "1", "top_k": "10"}],
         "rules-0-max_per_value", "can never be filled"),
        ([{"kind": "cap", "target_field": "section", "max_per_value": "5", "top_k": "3"}],
         "rules-0-max_per_value", "larger than the top K"),
        ([{"kind": "boost", "target_field": "section", "target_value": "Sport",
           "valid_from_0": "2030-02-01", "valid_from_1": "10:00", "valid_until_0": "2030-01-01",
           "valid_until_1": "10:00", "strength": "1.5"}],
         "rules-0-valid_until", "ends before it starts"),
        ([{"kind": "boost", "target_field": "section", "target_value": "Sport"}],
         "rules-0-strength", "Pick a strength"),
        ([{"kind": "boost", "target_field": "section", "target_value": "Sport",
           "strength": "custom"}], "rules-0-factor", "custom factor"),
        ([{"kind": "pin", "target_field": "article", "target_value": "No such headline",
           "slot": "1"}], "rules-0-target_value", "No such article"),
        ([{"kind": "mmr", "mmr_lambda": "2"}], "rules-0-mmr_lambda", "between 0"),
        ([{"kind": "max_age", "hours": "0"}], "rules-0-hours", "maximum age"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_next_to_the_field_and_nothing_is_saved(
    junior: User, rules: list[dict[str, Any]], field: str, message: str
) -> None:
    a = make_article(title="First", section="Sport")
    b = make_article(title="Second", section="Politics")
    for rule in rules:
        if rule.get("target_value") in ("{a}", "{b}"):
            rule["target_value"] = str({"{a}": a, "{b}": b}[rule["target_value"]].pk)
    response = logged_in(junior).post(ADD, form_data(rules))
    errors = field_errors(response)
    assert field in errors, errors
    assert any(message in m for m in errors[field]), errors[field]
    assert message in response.content.decode()
    assert not RuleSet.objects.exists()
    assert not Rule.objects.exists()


def test_set_window_must_end_after_it_starts(junior: User) -> None:
    data = form_data([], starts_at_0="2030-01-02", starts_at_1="10:00", ends_at_0="2030-01-01",
                     ends_at_1="10:00")  # fmt: skip
    errors = field_errors(logged_in(junior).post(ADD, data))
    assert errors["ends_at"] == ["The window ends before it starts."]


def test_a_second_save_of_a_stale_form_is_refused(junior: User) -> None:
    rule_set = RuleSet.objects.create(name="Weekend")
    boost = {"kind": "boost", "target_field": "section", "target_value": "Sport", "strength": "3"}
    first = form_data([boost], rule_set=rule_set)
    # Both editors opened the form at revision 1; the first save wins...
    response = logged_in(junior).post(change_url(rule_set), first)
    assert response.status_code == 302, field_errors(response)
    rule_set.refresh_from_db()
    assert rule_set.revision == 2
    # ...the second is told, and its changes are not saved over the first one's.
    second = form_data([], rule_set=RuleSet(pk=rule_set.pk, name="Weekend", revision=1))
    response = logged_in(junior).post(change_url(rule_set), {**second, "description": "mine"})
    assert response.status_code == 200
    assert "Someone else saved this rule set" in response.content.decode()
    rule_set.refresh_from_db()
    assert (rule_set.revision, rule_set.description) == (2, "")
    assert rule_set.rules.count() == 1


def test_editors_edit_drafts_only_and_cannot_publish(junior: User, senior: User) -> None:
    live = RuleSet.objects.create(name="Default")
    Rule.objects.create(rule_set=live, kind="block", target_field="section", target_value="Sport")
    client = logged_in(junior)
    assert client.post(f"/admin/editorial/ruleset/{live.pk}/publish/").status_code == 403
    services.ruleset_publish(rule_set=live, user=senior)
    version = RuleSetVersion.objects.get()
    assert client.post(f"/admin/editorial/version/{version.pk}/rollback/").status_code == 404
    assert (
        client.post(f"/admin/editorial/ruleset/version/{version.pk}/rollback/").status_code == 403
    )
    # A published set is read-only for an editor, who copies it into a draft instead.
    page = client.get(change_url(live)).content.decode()
    assert "Copy as a draft to change it" in page
    assert client.post(change_url(live), form_data([], rule_set=live)).status_code == 403
    response = client.post(
        "/admin/editorial/ruleset/",
        {"action": "copy_as_draft", "_selected_action": [live.pk]},
    )
    assert response.status_code == 302
    copy = RuleSet.objects.get(name="Default (draft)")
    assert (copy.status, copy.rules.count()) == (RuleSetStatus.DRAFT, 1)
    # Reader data stays hidden.
    assert client.get("/admin/newsrec/reader/").status_code == 403


def test_senior_publishes_and_rolls_back_from_the_admin(senior: User) -> None:
    rule_set = RuleSet.objects.create(name="Default")
    Rule.objects.create(
        rule_set=rule_set, kind="boost", target_field="section", target_value="Sport", factor=3
    )
    client = logged_in(senior)
    url = f"/admin/editorial/ruleset/{rule_set.pk}/publish/"
    review = client.get(url).content.decode()
    assert "Added: Boost section “Sport” \u00d73" in review  # what changes, before publishing
    response = client.post(url, {"note": "launch", "revision": rule_set.revision}, follow=True)
    assert "as version 1; it is live" in response.content.decode()
    rule_set.refresh_from_db()
    assert rule_set.is_live
    # The live set is not edited in place, not even by a senior editor: a draft copy is.
    data = form_data(
        [{"kind": "boost", "target_field": "section", "target_value": "Sport", "strength": "0.3"}],
        rule_set=rule_set,
    )
    assert client.post(change_url(rule_set), data).status_code == 403
    response = client.post(f"/admin/editorial/ruleset/{rule_set.pk}/copy/", follow=True)
    copy = RuleSet.objects.get(name="Default (draft)")
    data = form_data(
        [{"kind": "boost", "target_field": "section", "target_value": "Sport", "strength": "0.3"}],
        rule_set=copy, _review_publish="1",
    )  # fmt: skip
    response = client.post(change_url(copy), data)
    assert response.status_code == 302, field_errors(response)
    assert response["Location"] == f"/admin/editorial/ruleset/{copy.pk}/publish/"
    review = client.get(response["Location"]).content.decode()
    assert "Changed: Boost section “Sport” \u00d73 → Bury section “Sport” \u00d70.3" in review
    copy.refresh_from_db()
    client.post(response["Location"], {"revision": copy.revision})
    rule_set.refresh_from_db()
    assert not rule_set.is_live
    # Restored in one step from the version history.
    client.post(f"/admin/editorial/ruleset/version/{rule_set.versions.get().pk}/rollback/")
    rule_set.refresh_from_db()
    assert rule_set.is_live
    assert rule_set.versions.count() == 2
    v1 = rule_set.versions.get(number=1)
    page = client.get(change_url(rule_set)).content.decode()
    assert "Roll back to v1" in page
    response = client.post(f"/admin/editorial/ruleset/version/{v1.pk}/rollback/", follow=True)
    assert "Rolled back to version 1" in response.content.decode()
    assert list(rule_set.rules.values_list("factor", flat=True)) == [3.0]
    assert rule_set.versions.count() == 3
    sources = set(AuditEntry.objects.values_list("source", flat=True))
    assert sources == {"admin", "system"}  # the ORM set-up above is "system"


def test_lookup_suggests_names_and_article_titles(junior: User) -> None:
    article = make_article(title="Harbour tram opens", section="Local", tags=["transport"],
                           authors=["Ada Byline"])  # fmt: skip
    client = logged_in(junior)
    url = "/admin/editorial/ruleset/lookup/"
    assert client.get(url, {"field": "section", "q": "loc"}).json()["results"][0]["value"] == (
        "Local"
    )
    assert client.get(url, {"field": "tag", "q": "trans"}).json()["results"][0]["value"] == (
        "transport"
    )
    assert client.get(url, {"field": "author", "q": "ada"}).json()["results"][0]["value"] == (
        "Ada Byline"
    )
    found = client.get(url, {"field": "article", "q": "tram"}).json()["results"]
    assert found[0]["value"] == f"Harbour tram opens [#{article.pk}]"
    assert client.get(url, {"field": "password"}).status_code == 400
    assert Client().get(url, {"field": "section"}).status_code == 302  # login first


PIN = {"kind": "pin", "target_field": "article"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({**PIN, "target_value": "{a}", "slot": "-1"},
         {"rules-0-slot": ["Choose the slot (1 = top)."]}),
        ({**PIN, "target_value": "{a}", "slot": "0"},
         {"rules-0-slot": ["Choose the slot (1 = top)."]}),
        ({"kind": "freshness", "hours": "-5"},
         {"rules-0-hours": ["Give the freshness half-life in hours: more than 0, at most "
                            "876,000."]}),
        ({"kind": "max_age", "hours": "-5"},
         {"rules-0-hours": ["Give the maximum age in hours: more than 0, at most 876,000."]}),
        ({**PIN, "target_value": "No such headline", "slot": "1"},
         {"rules-0-target_value": ["No such article: pick one from the list (or give its id)."]}),
        ({**PIN, "slot": "1"}, {"rules-0-target_value": ["Pick the article to pin."]}),
        ({"kind": "pin", "target_field": "section", "target_value": "Sport", "slot": "1"},
         {"rules-0-target_field": ["A pin is for one article: choose Article."]}),
        ({"kind": "boost", "target_field": "section", "target_value": "Sport"},
         {"rules-0-strength": ["How much more or less? Pick a strength."]}),
        ({"kind": "boost", "target_field": "section", "target_value": "Sport",
          "strength": "custom"},
         {"rules-0-factor": ["Give the custom factor, or pick a strength."]}),
    ],
)  # fmt: skip
def test_one_message_per_problem_on_the_right_field(
    junior: User, rule: dict[str, Any], expected: dict[str, list[str]]
) -> None:
    """#17.6: no second message contradicting the first, none on a field that is fine."""
    a = make_article(title="First")
    if rule.get("target_value") == "{a}":
        rule = {**rule, "target_value": str(a.pk)}
    errors = field_errors(logged_in(junior).post(ADD, form_data([rule])))
    assert errors == expected
    assert not Rule.objects.exists()


def test_clashing_pins_name_the_rule_as_the_form_shows_it_and_the_article_by_title(
    junior: User,
) -> None:
    first = make_article(title="Polls close across the region")
    second = make_article(title="Live results map")
    rules = [
        {"kind": "mmr", "mmr_lambda": "2"},  # refused on its own: still rule #1 on screen
        {"kind": "boost", "target_field": "section", "target_value": "Sport", "strength": "3"},
        {**PIN, "target_value": str(first.pk), "slot": "2"},
        {**PIN, "target_value": str(second.pk), "slot": "2"},
        {**PIN, "target_value": str(first.pk), "slot": "5"},
    ]
    response = logged_in(junior).post(ADD, form_data(rules))
    errors = field_errors(response)
    page = response.content.decode()
    assert errors["rules-3-slot"] == [
        "Slot 2 is already taken by rule #3 (“Polls close across the region” at slot 2) for the "
        "same readers at the same time: change the slot, window or devices."
    ]
    assert errors["rules-4-target_value"] == [
        "“Polls close across the region” is already pinned by rule #3 (at slot 2) for the same "
        "readers at the same time."
    ]
    assert '<span class="inline_label">#3</span>' in page


def test_rules_keep_their_order_and_headers_name_articles_by_title(junior: User) -> None:
    article = make_article(title="Harbour tram opens")
    rule_set = RuleSet.objects.create(name="Weekend")
    rows: list[dict[str, Any]] = [
        {**PIN, "target_value": str(article.pk), "slot": 1},
        {"kind": "block", "target_field": "section", "target_value": "Sport"},
        {"kind": "boost", "target_field": "tag", "target_value": "tram", "factor": 3},
    ]
    for row in rows:
        Rule.objects.create(rule_set=rule_set, **row)
    page = logged_in(junior).get(change_url(rule_set)).content.decode()
    headers = [
        f"{number} {summary}"
        for number, summary in re.findall(
            r'<span class="inline_label">(#\d+)</span> <span class="editorial-rule-summary">'
            r"(.*?)</span>",
            page,
        )
    ]
    assert headers[:3] == [
        "#1 · Pin at a slot: Harbour tram opens",
        "#2 · Blocklist section=Sport",
        "#3 · Boost or bury tag=tram",
    ]
    assert "article=" not in page.split("rules-group", 1)[1]
