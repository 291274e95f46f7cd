"""Permission errors in the admin render inside the admin's layout, with a way back."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views import defaults

from demo.management.commands.newsrec_demo import DEMO_LOGINS, demo_group_permissions

pytestmark = pytest.mark.django_db


def _demo_login(username: str) -> Client:
    """A client logged in as the demo's ``editor`` or ``senior``, with the demo's rights."""
    [(_name, _password, group_name, superuser)] = [d for d in DEMO_LOGINS if d[0] == username]
    group = Group.objects.create(name=group_name)
    group.permissions.set(demo_group_permissions(group_name))
    user = get_user_model().objects.create_user(username, is_staff=True, is_superuser=superuser)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("view", ["changelist", "add"])
def test_the_demo_editor_is_refused_api_keys_inside_the_admin_layout(view: str) -> None:
    client = _demo_login("editor")
    response = client.get(reverse(f"admin:newsrec_apikey_{view}"))
    assert response.status_code == 403
    names = [t.name for t in response.templates]
    assert "admin/403.html" in names
    assert "admin/base_site.html" in names
    page = " ".join(response.content.decode().split())
    assert 'id="site-name"' in page  # the admin's header
    assert reverse("admin:logout") in page  # and its user tools
    assert "Permission denied" in page
    assert "senior editors" in page
    assert reverse("admin:index") in page


def test_the_demo_senior_editor_may_create_api_keys() -> None:
    client = _demo_login("senior")
    assert client.get(reverse("admin:newsrec_apikey_add")).status_code == 200


def test_permission_errors_outside_the_admin_keep_the_sites_layout() -> None:
    request = RequestFactory().get(reverse("newsrec:privacy"))
    response = defaults.permission_denied(request, PermissionDenied())
    page = response.content.decode()
    assert response.status_code == 403
    assert "The Harbourtown Ledger" in page
    assert "site-name" not in page
