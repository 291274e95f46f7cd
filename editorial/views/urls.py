"""The editors' admin pages' URLs, served under each ModelAdmin's own (its `get_urls`).

The paths and names are part of the admin's interface: templates and hosts reverse
`admin:editorial_*`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.urls import URLPattern, path
from django.views import View

from editorial.views.dashboard import DashboardView, ProgressView
from editorial.views.experiments import ExperimentResultsView, ExperimentRunView
from editorial.views.lookups import LookupView
from editorial.views.preview import PreviewView
from editorial.views.publishing import CopyView, PublishView, RestoreView, RollbackView


def _page(model_admin: ModelAdmin[Any], view: type[View], **initkwargs: Any) -> Any:
    """`view` for `model_admin`, inside the admin site (staff login, CSRF, no cache)."""
    return model_admin.admin_site.admin_view(view.as_view(model_admin=model_admin, **initkwargs))


def ruleset_urls(model_admin: ModelAdmin[Any]) -> list[URLPattern]:
    """Under /admin/editorial/ruleset/: the dashboard, lookups, preview and publishing."""
    return [
        path("dashboard/", _page(model_admin, DashboardView), name="editorial_dashboard"),
        path("lookup/", _page(model_admin, LookupView), name="editorial_lookup"),
        path("progress/", _page(model_admin, ProgressView), name="editorial_progress"),
        path("<int:pk>/publish/", _page(model_admin, PublishView), name="editorial_publish"),
        path("<int:pk>/copy/", _page(model_admin, CopyView), name="editorial_copy"),
        path("restore/", _page(model_admin, RestoreView), name="editorial_restore"),
        path("<int:pk>/preview/", _page(model_admin, PreviewView), name="editorial_preview"),
        path(
            "version/<int:pk>/rollback/",
            _page(model_admin, RollbackView),
            name="editorial_rollback",
        ),
    ]


def experiment_urls(model_admin: ModelAdmin[Any]) -> list[URLPattern]:
    """Under /admin/editorial/experiment/: start, stop and results."""
    return [
        path(
            "<int:pk>/start/",
            _page(model_admin, ExperimentRunView, start=True),
            name="editorial_experiment_start",
        ),
        path(
            "<int:pk>/stop/",
            _page(model_admin, ExperimentRunView, start=False),
            name="editorial_experiment_stop",
        ),
        path(
            "<int:pk>/results/",
            _page(model_admin, ExperimentResultsView),
            name="editorial_experiment_results",
        ),
    ]
