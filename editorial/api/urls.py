"""Routes of the editors' API, mounted beside newsrec's (``api/v1/``)."""

from django.urls import path

from editorial.api import experiments, rules

app_name = "editorial-api"

urlpatterns = [
    path("experiments/", experiments.ExperimentListView.as_view(), name="experiments"),
    path(
        "experiments/<int:pk>/",
        experiments.ExperimentResultsView.as_view(),
        name="experiment-detail",
    ),
    path("rules/", rules.RuleListCreateView.as_view(), name="rules"),
    path("rules/<int:pk>/", rules.RuleDetailView.as_view(), name="rule-detail"),
    path("rules/sets/", rules.RuleSetListView.as_view(), name="rule-sets"),
    path("rules/sets/<int:pk>/", rules.RuleSetDetailView.as_view(), name="rule-set-detail"),
]
