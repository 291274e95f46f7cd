"""Rules API: who may read and write, validation through Rule.clean(), the live set is read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from editorial.models import AuditEntry, Rule, RuleSet
from newsrec.api.authentication import api_key_create

pytestmark = pytest.mark.django_db

RULES = "/api/v1/rules/"
SETS = "/api/v1/rules/sets/"


def _key_client(*scopes: str) -> APIClient:
    _key, raw = api_key_create(name="cms", scopes=list(scopes))
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}")


@pytest.fixture
def editor() -> APIClient:
    return _key_client("manage-rules")


@pytest.fixture
def draft() -> RuleSet:
    return RuleSet.objects.create(name="Election night")


@pytest.fixture
def live() -> RuleSet:
    return RuleSet.objects.create(name="Default", is_live=True)


def _boost(target_set: RuleSet, **overrides: Any) -> dict[str, Any]:
    return {
        "rule_set": target_set.pk, "kind": "boost", "target_field": "section",
        "target_value": "Politics", "factor": 2.0, **overrides,
    }  # fmt: skip


def test_reading_rules_needs_staff_or_a_scope(draft: RuleSet) -> None:
    Rule.objects.create(rule_set=draft, kind="block", target_field="tag", target_value="gossip")
    reader = APIClient()
    reader.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=User.objects.create_user('r')).key}"
    )
    staff = APIClient()
    staff.force_authenticate(User.objects.create_user("ed", is_staff=True))
    for url in (RULES, SETS, f"{SETS}{draft.pk}/"):
        assert APIClient().get(url).status_code in (401, 403), url
        assert reader.get(url).status_code == 403, url
        assert _key_client("write-events").get(url).status_code == 403, url
        for client in (_key_client("read-feeds"), _key_client("manage-rules"), staff):
            assert client.get(url).status_code == 200, url


def test_rule_sets_list_their_rules_and_rules_filter_by_set(
    editor: APIClient, draft: RuleSet, live: RuleSet
) -> None:
    rule = Rule.objects.create(rule_set=draft, kind="mmr", mmr_lambda=0.7)
    Rule.objects.create(rule_set=live, kind="max_age", hours=48)
    sets = editor.get(SETS).json()
    assert [(s["name"], s["is_live"]) for s in sets] == [
        ("Default", True),
        ("Election night", False),
    ]
    assert sets[1]["rules"][0] == {**sets[1]["rules"][0], "id": rule.pk, "mmr_lambda": 0.7}
    only = editor.get(RULES, {"rule_set": draft.pk}).json()
    assert [r["id"] for r in only] == [rule.pk]
    assert editor.get(RULES, {"rule_set": "abc"}).status_code == 400
    assert editor.get(RULES, {"rule_set": str(2**70)}).status_code == 400


def test_create_update_delete_in_a_draft_set_is_audited_as_api(
    editor: APIClient, draft: RuleSet
) -> None:
    created = editor.post(RULES, _boost(draft, note="Election"), format="json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert Rule.objects.get(pk=rule_id).factor == 2.0
    patched = editor.patch(f"{RULES}{rule_id}/", {"factor": 0.5}, format="json")
    assert patched.status_code == 200
    assert patched.json()["factor"] == 0.5
    assert (
        editor.put(f"{RULES}{rule_id}/", _boost(draft, factor=3), format="json").json()["factor"]
        == 3.0
    )
    assert editor.delete(f"{RULES}{rule_id}/").status_code == 204
    assert not Rule.objects.filter(pk=rule_id).exists()
    sources = set(
        AuditEntry.objects.filter(object_type="rule", object_id=rule_id).values_list(
            "source", flat=True
        )
    )
    assert sources == {"api"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"factor": 1}, "factor"),
        ({"factor": -2}, "factor"),
        ({"target_value": ""}, "target_value"),
        ({"kind": "pin", "target_field": "article", "target_value": "12"}, "slot"),
        (
            {"kind": "pin", "target_field": "article", "target_value": "x", "slot": 1},
            "target_value",
        ),
        ({"kind": "teleport"}, "kind"),
        ({"kind": "mmr", "mmr_lambda": 1.5}, "mmr_lambda"),
        ({"kind": "cap", "max_per_value": 5, "top_k": 3}, "max_per_value"),
        (
            {"valid_from": "2026-11-29T00:00:00Z", "valid_until": "2026-11-28T00:00:00Z"},
            "valid_until",
        ),
        ({"devices": ["fridge"]}, "devices"),
        ({"slot": -1}, "slot"),
        ({"priority": 10**6}, "priority"),
        ({"note": "n\x00"}, "note"),
        ({"rule_set": 10**9}, "rule_set"),
    ],
)
def test_invalid_rules_get_field_errors(
    editor: APIClient, draft: RuleSet, overrides: dict[str, Any], field: str
) -> None:
    response = editor.post(RULES, _boost(draft, **overrides), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert not Rule.objects.exists()


def test_patch_is_validated_against_the_whole_rule(editor: APIClient, draft: RuleSet) -> None:
    rule = Rule.objects.create(rule_set=draft, kind="boost", target_field="section",
                               target_value="Politics", factor=2.0)  # fmt: skip
    response = editor.patch(f"{RULES}{rule.pk}/", {"kind": "pin"}, format="json")
    assert response.status_code == 400
    assert {"slot", "target_field"} <= set(response.json()["errors"])
    rule.refresh_from_db()
    assert rule.kind == "boost"


def test_the_live_set_is_read_only(editor: APIClient, draft: RuleSet, live: RuleSet) -> None:
    rule = Rule.objects.create(rule_set=live, kind="max_age", hours=48)
    into_live = editor.post(RULES, _boost(live), format="json")
    assert into_live.status_code == 400
    assert "Only draft rule sets" in into_live.json()["errors"]["rule_set"][0]
    assert editor.patch(f"{RULES}{rule.pk}/", {"hours": 1}, format="json").status_code == 400
    moved = editor.patch(f"{RULES}{rule.pk}/", {"rule_set": draft.pk}, format="json")
    assert moved.status_code == 400
    assert editor.delete(f"{RULES}{rule.pk}/").status_code == 400
    rule.refresh_from_db()
    assert (rule.hours, rule.rule_set_id) == (48, live.pk)
    mine = Rule.objects.create(rule_set=draft, kind="max_age", hours=48)
    assert (
        editor.patch(f"{RULES}{mine.pk}/", {"rule_set": live.pk}, format="json").status_code == 400
    )


def test_a_scheduled_set_is_read_only_until_it_goes_live(editor: APIClient) -> None:
    """A senior scheduled it: what goes live is what the senior published (#12.7)."""
    from datetime import timedelta

    from django.utils import timezone

    from editorial import services

    night = RuleSet.objects.create(
        name="Election night", starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=2),
    )  # fmt: skip
    rule = Rule.objects.create(rule_set=night, kind="max_age", hours=48)
    services.ruleset_publish(rule_set=night)
    night.refresh_from_db()
    assert night.status == "scheduled"
    assert not night.is_live
    assert editor.post(RULES, _boost(night), format="json").status_code == 400
    assert editor.patch(f"{RULES}{rule.pk}/", {"hours": 1}, format="json").status_code == 400
    assert editor.delete(f"{RULES}{rule.pk}/").status_code == 400
    rule.refresh_from_db()
    assert rule.hours == 48
    assert list(night.rules.all()) == [rule]


def test_writing_needs_manage_rules_or_staff(draft: RuleSet) -> None:
    assert _key_client("read-feeds").post(RULES, _boost(draft), format="json").status_code == 403
    assert APIClient().post(RULES, _boost(draft), format="json").status_code in (401, 403)
    staff = APIClient()
    staff.force_authenticate(User.objects.create_user("ed", is_staff=True))
    assert staff.post(RULES, _boost(draft), format="json").status_code == 201
    assert Rule.objects.count() == 1


@pytest.mark.parametrize("value", ["²", "\u0663", str(10**30), "-1"])
def test_listing_rules_of_a_set_named_in_other_digits_is_a_400(
    editor: APIClient, value: str
) -> None:
    response = editor.get(f"{RULES}?rule_set={value}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"rule_set": ["Must be a rule set id."]}
