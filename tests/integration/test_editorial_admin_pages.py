"""The editors' admin pages beyond CRUD keep their contract: staff only, the permission checked
first, an unknown object 404, any other method 405 naming exactly the methods the page takes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from editorial.models import RuleSet
from tests.integration.test_editorial_publish import make_user

pytestmark = pytest.mark.django_db
MISSING = 999_999


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("editorial_dashboard", []),
        ("editorial_lookup", []),
        ("editorial_progress", []),
        ("editorial_publish", [1]),
        ("editorial_preview", [1]),
        ("editorial_experiment_results", [1]),
    ],
)
def test_anonymous_visitors_are_sent_to_the_admin_login(name: str, args: list[int]) -> None:
    response = Client().get(reverse(f"admin:{name}", args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("name", "args", "method"),
    [
        ("editorial_publish", [MISSING], "get"),
        ("editorial_publish", [MISSING], "post"),
        ("editorial_restore", [], "post"),
        ("editorial_rollback", [MISSING], "post"),
        ("editorial_preview", [MISSING], "get"),
        ("editorial_dashboard", [], "get"),
        ("editorial_lookup", [], "get"),
        ("editorial_experiment_start", [MISSING], "post"),
    ],
)
def test_the_permission_is_checked_before_the_object_is_looked_up(
    name: str, args: list[int], method: str
) -> None:
    staff = User.objects.create_user("staff", "staff@example.org", "pw", is_staff=True)
    client = logged_in(staff)
    response = getattr(client, method)(reverse(f"admin:{name}", args=args))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("name", "args", "method", "allow"),
    [
        ("editorial_publish", "set", "put", "GET, POST"),
        ("editorial_publish", "set", "options", "GET, POST"),
        ("editorial_copy", "set", "get", "POST"),
        ("editorial_restore", None, "get", "POST"),
        ("editorial_rollback", "missing", "get", "POST"),
        ("editorial_dashboard", None, "post", "GET, HEAD"),
    ],
)
def test_other_methods_get_405_naming_the_methods_the_page_takes(
    name: str, args: str | None, method: str, allow: str
) -> None:
    client = logged_in(make_user("senior", "Senior editor"))
    pk = {"set": RuleSet.objects.create(name="Draft").pk, "missing": MISSING, None: None}[args]
    response = getattr(client, method)(reverse(f"admin:{name}", args=[] if pk is None else [pk]))
    assert response.status_code == 405
    assert response["Allow"] == allow


def test_an_unknown_set_is_404_whatever_the_method() -> None:
    client = logged_in(make_user("senior", "Senior editor"))
    url = reverse("admin:editorial_publish", args=[MISSING])
    assert client.get(url).status_code == 404
    assert client.put(url).status_code == 404
    assert client.post(reverse("admin:editorial_copy", args=[MISSING])).status_code == 404


def test_lookup_refuses_an_unknown_field_with_json() -> None:
    client = logged_in(make_user("junior", "Editor"))
    response = client.get(reverse("admin:editorial_lookup"), {"field": "colour", "q": "x"})
    assert response.status_code == 400
    assert "field must be" in response.json()["error"]
