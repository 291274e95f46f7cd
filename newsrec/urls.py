"""Reader-facing pages of newsrec."""

from django.urls import path

from newsrec import views

app_name = "newsrec"

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<int:pk>/", views.article_detail, name="article"),
    path("healthz/", views.healthz, name="healthz"),
]
