"""Reader-facing pages of newsrec."""

from django.urls import path

from newsrec import health, metrics, views
from newsrec.retention import views as retention_views

app_name = "newsrec"

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<int:pk>/", views.article_detail, name="article"),
    # path: a CMS section name may contain a slash ("Arts/Books").
    path("section/<path:name>/", views.section_page, name="section"),
    path("not-interested/", views.hide, name="hide"),
    path("not-interested/undo/", views.hide_undo, name="hide-undo"),
    path("nudge/shown/", retention_views.nudge_shown, name="nudge-shown"),
    path("nudge/dismiss/", retention_views.nudge_dismiss, name="nudge-dismiss"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/personalisation/", views.privacy_personalisation, name="privacy-personalisation"),
    path("privacy/export/", views.privacy_export, name="privacy-export"),
    path("privacy/erase/", views.privacy_erase, name="privacy-erase"),
    path("healthz/", health.healthz, name="healthz"),
    path("readyz/", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),  # Prometheus's default path, no slash
]
