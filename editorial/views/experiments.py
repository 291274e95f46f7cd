"""Experiments: start and stop from the change page, and the results page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from editorial import presenters
from editorial.experiments import services as experiment_services
from editorial.experiments.returns import experiment_returns
from editorial.experiments.selectors import experiment_results
from editorial.models import Experiment
from editorial.views.base import EditorialAdminView


def experiment_run(
    model_admin: Any, request: HttpRequest, experiment: Experiment, *, start: bool
) -> bool:
    """Start or stop an experiment and tell the editor how it went; False when refused."""
    verb = "start" if start else "stop"
    try:
        if start:
            experiment_services.experiment_start(experiment=experiment, user=request.user)
        else:
            experiment_services.experiment_stop(experiment=experiment, user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            model_admin.message_user(
                request, f"“{experiment}” did not {verb}: {message}", messages.ERROR
            )
        return False
    model_admin.message_user(
        request, f"“{experiment}” {'is running' if start else 'stopped'}.", messages.SUCCESS
    )
    return True


class ExperimentRunView(EditorialAdminView):
    """POST: start (`start=True`) or stop an experiment, then back to its change page."""

    http_method_names = ["post"]
    start = True

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(self.admin.has_run_permission(request))  # type: ignore[attr-defined]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        experiment = get_object_or_404(Experiment, pk=pk)
        experiment_run(self.admin, request, experiment, start=self.start)
        return HttpResponseRedirect(reverse("admin:editorial_experiment_change", args=[pk]))


class ExperimentResultsView(EditorialAdminView):
    """GET: each variant's figures against the baseline, and the readers' return rates."""

    template_name = "admin/editorial/experiment/results.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        experiment = get_object_or_404(Experiment, pk=pk)
        if not self.admin.has_view_permission(request, experiment):
            raise PermissionDenied
        results = experiment_results(experiment=experiment)
        returns: list[dict[str, Any]] = []
        if results.window_start is not None and results.window_end is not None:
            returns = presenters.returns_rows(
                experiment_returns(
                    variants=[v.variant for v in results.variants],
                    baseline=results.baseline,
                    start=results.window_start,
                    end=results.window_end,
                )
            )
        context = self.admin_context(
            title=f"Results of “{experiment}”",
            experiment=experiment,
            results=results,
            rows=presenters.results_rows(results.variants),
            returns=returns,
        )
        return self.render(self.template_name, context)
