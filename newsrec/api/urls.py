"""REST API v1 routes."""

from django.urls import path

from newsrec.api import views

app_name = "newsrec-api"

urlpatterns = [
    path("articles/", views.ArticleListUpsertView.as_view(), name="articles"),
    path("articles/<int:pk>/", views.ArticleDetailView.as_view(), name="article-detail"),
    path("articles/<int:pk>/related/", views.ArticleRelatedView.as_view(), name="article-related"),
]
