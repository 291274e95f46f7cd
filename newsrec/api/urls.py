"""REST API v1 routes."""

from django.urls import path

from newsrec.api import auth, events, experiments, feeds, readers, retention, rules, views
from newsrec.api import schema as _schema  # noqa: F401  (registers the OpenAPI auth schemes)

app_name = "newsrec-api"

urlpatterns = [
    path("articles/", views.ArticleListUpsertView.as_view(), name="articles"),
    path("articles/<int:pk>/", views.ArticleDetailView.as_view(), name="article-detail"),
    path("articles/<int:pk>/related/", views.ArticleRelatedView.as_view(), name="article-related"),
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
    path("events/", events.EventsView.as_view(), name="events"),
    path("me/", events.MeView.as_view(), name="me"),
    path("me/export/", events.MeExportView.as_view(), name="me-export"),
    path("me/personalisation/", events.MePersonalisationView.as_view(), name="me-personalisation"),
    path("experiments/", experiments.ExperimentListView.as_view(), name="experiments"),
    path(
        "experiments/<int:pk>/",
        experiments.ExperimentResultsView.as_view(),
        name="experiment-detail",
    ),
    path("feeds/me/", feeds.MyFeedView.as_view(), name="feed-me"),
    path("feeds/me/rails/", feeds.MyRailsView.as_view(), name="feed-me-rails"),
    path("feeds/progress/", feeds.FanoutProgressView.as_view(), name="feed-progress"),
    path("feeds/<uuid:public_id>/", feeds.ReaderFeedView.as_view(), name="feed-reader"),
    path("readers/at-risk/", retention.AtRiskReadersView.as_view(), name="readers-at-risk"),
    # path: a host's reader id may hold slashes
    path(
        "readers/<path:reference>/export/",
        readers.ReaderExportView.as_view(),
        name="reader-export",
    ),
    path("readers/<path:reference>/", readers.ReaderDetailView.as_view(), name="reader-detail"),
    path("rules/", rules.RuleListCreateView.as_view(), name="rules"),
    path("rules/<int:pk>/", rules.RuleDetailView.as_view(), name="rule-detail"),
    path("rules/sets/", rules.RuleSetListView.as_view(), name="rule-sets"),
    path("rules/sets/<int:pk>/", rules.RuleSetDetailView.as_view(), name="rule-set-detail"),
]
