"""URLs of the runnable site: reader pages, admin, API and its docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("newsrec.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("", include("newsrec.urls")),
]

# JSON errors under /api/, Django's HTML pages elsewhere.
handler400 = "newsrec.api.errors.bad_request"
handler403 = "newsrec.api.errors.permission_denied"
handler404 = "newsrec.api.errors.page_not_found"
handler500 = "newsrec.api.errors.server_error"
