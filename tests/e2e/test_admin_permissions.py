"""#17.5 in a real browser: the demo's editor asking for API keys sees the refusal inside the
admin's own layout, with the admin's header and a way back, not a bare "403 Forbidden"."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from demo.management.commands.newsrec_demo import DEMO_LOGINS, demo_group_permissions
from tests.e2e.conftest import SCREENSHOTS, csp_watch

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "editor-demo-password-e2e"


def test_the_demo_editor_is_refused_api_keys_inside_the_admin(
    browser: Any, live_server: Any
) -> None:
    [(name, _password, group_name, _superuser)] = [d for d in DEMO_LOGINS if d[0] == "editor"]
    group = Group.objects.create(name=group_name)
    group.permissions.set(demo_group_permissions(group_name))
    user = get_user_model().objects.create_user(name, password=PASSWORD, is_staff=True)
    user.groups.add(group)
    context = browser.new_context(base_url=live_server.url)
    violations = csp_watch(context)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", name)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    response = page.goto("/admin/newsrec/apikey/")
    assert response is not None
    assert response.status == 403
    assert page.locator("#site-name").is_visible()  # the admin's header
    assert (
        page.get_by_role("link", name="Log out").count() + page.locator("#logout-form").count()
    )  # its user tools
    assert "senior" in page.locator("#content").inner_text().lower()  # who may create keys
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "editor-api-keys-refused.png", full_page=True)
    context.close()
    assert not violations, violations
