"""REST API v1 routes."""

from django.urls import path

from newsrec.api import auth, events, feeds, nudges, readers, retention, views
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
    path("feeds/me/", feeds.MyFeedView.as_view(), name="feed-me"),
    path("feeds/me/rails/", feeds.MyRailsView.as_view(), name="feed-me-rails"),
    path("feeds/progress/", feeds.FanoutProgressView.as_view(), name="feed-progress"),
    path("feeds/<uuid:public_id>/", feeds.ReaderFeedView.as_view(), name="feed-reader"),
    path("nudges/me/", nudges.MyNudgeView.as_view(), name="nudge-me"),
    path("nudges/me/dismiss/", nudges.MyNudgeDismissView.as_view(), name="nudge-me-dismiss"),
    path("readers/at-risk/", retention.AtRiskReadersView.as_view(), name="readers-at-risk"),
    # path: a host's reader id may hold slashes
    path(
        "readers/<path:reference>/export/",
        readers.ReaderExportView.as_view(),
        name="reader-export",
    ),
    path("readers/<path:reference>/", readers.ReaderDetailView.as_view(), name="reader-detail"),
]
