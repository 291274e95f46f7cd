"""A Content-Security-Policy on every answer, and the site, the admin and the API docs meet it
in a real browser (#14.14)."""

from __future__ import annotations

from typing import Any

import pytest

from newsrec.models import Article
from tests.e2e.conftest import csp_watch
from tests.e2e.test_editor_room import log_in, staff

pytestmark = pytest.mark.e2e


def test_reader_pages_and_api_docs_meet_the_policy(demo_site: list[Article], page: Any) -> None:
    for path in ("/", f"/articles/{demo_site[0].pk}/", "/section/Sport/", "/privacy/",
                 "/api/docs/"):  # fmt: skip
        response = page.goto(path)
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, path
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["script-src"] == "'self'", path  # no inline script, no eval
    page.wait_for_selector(".swagger-ui")  # the docs rendered (their script ran)
    # the `context` fixture fails the test on any reported violation


def test_the_editors_room_meets_the_policy(
    demo_site: list[Article], browser: Any, live_server: Any
) -> None:
    senior = staff("senior", "Senior editor")
    context = browser.new_context(base_url=live_server.url)
    violations = csp_watch(context)
    page = log_in(context, senior)
    for path in ("/admin/", "/admin/editorial/ruleset/add/", "/admin/editorial/ruleset/dashboard/",
                 "/admin/newsrec/article/"):  # fmt: skip
        page.goto(path)
    page.goto("/admin/editorial/ruleset/add/")
    page.get_by_text("Add another Rule").click()  # the rule form's own script runs
    page.select_option("#id_rules-0-kind", "pin")
    context.close()
    assert not violations, violations
